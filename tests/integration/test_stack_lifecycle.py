"""The embedded stack's lifecycle: nothing is left running, whatever way a session ends."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.processes import (
    REPO,
    alive,
    processes_mentioning,
    run_pytest,
    stack_pids,
    start_pytest,
)

pytestmark = [pytest.mark.integration]

DRILL = "drills/monthly/test_application_failure.py"


@pytest.fixture
def run_dir() -> Iterator[Path]:
    # Under /tmp, not pytest's private tmp_path: PostgreSQL runs as its own user and must
    # traverse every parent of its data directory.
    parent = Path(tempfile.mkdtemp(prefix="drillbook-lifecycle-"))
    parent.chmod(0o755)
    yield parent / "stack"
    shutil.rmtree(parent, ignore_errors=True)


def _wait_for(path: Path, predicate: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and predicate in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never contained {predicate!r}")


def _assert_nothing_left(run_dir: Path, pids: set[int], *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)] + processes_mentioning(str(run_dir))
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"stack processes still running: {sorted(set(left))}")


def test_no_process_is_left_after_a_session(run_dir: Path) -> None:
    result = run_pytest(DRILL, "--drillbook-run-dir", str(run_dir))
    assert result.returncode == 0, result.stdout[-3000:]
    pids = stack_pids(run_dir)
    # supervisord, postgres, redis, haproxy, and 2 replicas started twice or more by the drills
    assert len(pids) >= 6, pids
    _assert_nothing_left(run_dir, pids, timeout=5)


def test_sigterm_during_a_drill_undoes_the_fault_and_stops_the_stack(run_dir: Path) -> None:
    proc = start_pytest(
        DRILL,
        "-k",
        "all_replicas",
        "--drillbook-run-dir",
        str(run_dir),
        # A probe interval long enough that the drill is surely between injection and recovery
        # when the signal arrives.
        "--drillbook-probe-interval",
        "1s",
    )
    journal = run_dir / "undo-journal.jsonl"
    _wait_for(journal, '"state": "pending"')
    pids = stack_pids(run_dir)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output
    states = [json.loads(line)["state"] for line in journal.read_text().splitlines()]
    assert states == ["pending", "done"], (states, output[-2000:])
    _assert_nothing_left(run_dir, pids)


def test_a_killed_session_leaves_no_stack_behind(run_dir: Path) -> None:
    proc = start_pytest(DRILL, "-k", "all_replicas", "--drillbook-run-dir", str(run_dir))
    _wait_for(run_dir / "undo-journal.jsonl", '"state": "pending"')
    pids = stack_pids(run_dir)
    proc.kill()  # SIGKILL: no teardown at all; the watchdog must stop the stack
    proc.communicate(timeout=30)
    _assert_nothing_left(run_dir, pids, timeout=30)


def test_a_missing_postgres_binary_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "no-postgres-here"
    empty.mkdir()
    config = tmp_path / "drillbook.toml"
    embedded = (REPO / "drillbook" / "config" / "embedded.toml").read_text()
    assert "\n[stack]\n" in embedded
    config.write_text(embedded.replace("\n[stack]\n", f'\n[stack]\npostgres_bin_dir = "{empty}"\n'))
    result = run_pytest(DRILL, "--drillbook-config", str(config))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "MissingDependency: PostgreSQL server binaries 'postgres' and 'initdb' not found" in out
    assert f"stack.postgres_bin_dir = '{empty}'" in out
    assert "apt-get install postgresql" in out
    assert "Traceback" not in out
