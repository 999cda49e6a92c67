"""A dry run of the monthly suite against a running embedded stack changes nothing: the same
processes (same PIDs, same states), the same secrets in both providers, the same files in the
run directory (names and contents of everything but logs and the services' own data files),
the same evidence rows, and no undo journal, lock or run record appears. The plan itself names
the stack it would drill and what a real run would meet there first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drillbook.secrets.store import SecretPaths
from drillbook.stack.local_stack import LocalStack, attach
from drillbook.stack.secret_stores import embedded_store
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

# What the services write by themselves while idle (logs, database and vector-store files,
# sockets): compared by name only where stable, never by content.
_VOLATILE_PARTS = {"logs", "log", "pgdata", "weaviate", "redis", "pg_wal", "vault", "moto"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def running_stack() -> Iterator[LocalStack]:
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-dry-run-stack-"))
    try:
        up = _cli("stack", "up", "--run-dir", str(run_dir))
        assert up.returncode == 0, up.stdout + up.stderr
        stack = attach(run_dir)
        assert stack is not None
        yield stack
    finally:
        _cli("stack", "down", "--run-dir", str(run_dir))
        shutil.rmtree(run_dir, ignore_errors=True)


def _snapshot(stack: LocalStack) -> dict[str, Any]:
    processes = sorted(
        (p["group"], p["name"], p["pid"], p["statename"]) for p in stack.supervisor.processes()
    )
    paths = SecretPaths()
    secrets = {
        name: {path: embedded_store(stack, name).provider.get(path) for path in paths.all()}
        for name in ("vault", "aws")
    }
    files: dict[str, str] = {}
    for path in sorted(stack.run_dir.rglob("*")):
        relative = path.relative_to(stack.run_dir)
        if not path.is_file() or _VOLATILE_PARTS.intersection(relative.parts):
            continue
        if path.suffix in {".log", ".sock", ".pid"}:
            continue
        files[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    with psycopg.connect(stack.database_dsn, connect_timeout=5) as connection:
        row = connection.execute("SELECT count(*) FROM evidence_records").fetchone()
    return {"processes": processes, "secrets": secrets, "files": files, "evidence": row}


def test_a_dry_run_of_the_monthly_suite_changes_nothing_on_a_running_stack(
    running_stack: LocalStack, tmp_path: Path
) -> None:
    before = _snapshot(running_stack)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly",
            "--drillbook-dry-run",
            "--drillbook-reuse-stack",
            "--drillbook-run-dir",
            str(running_stack.run_dir),
            "--drillbook-runs-dir",
            str(tmp_path / "runs"),
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    after = _snapshot(running_stack)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"the embedded stack in {running_stack.run_dir}" in run.stdout
    compared = {
        key: len(value) if isinstance(value, dict | list) else 1 for key, value in before.items()
    }
    print(f"dry run compared before/after: {compared}")
    assert len(before["processes"]) >= 8 and len(before["files"]) >= 1, before
    for key in before:
        assert after[key] == before[key], key
    assert not (running_stack.run_dir / "undo-journal.jsonl").exists()
    assert not (running_stack.run_dir / "drill.lock").exists()
    assert not (tmp_path / "runs").exists()
