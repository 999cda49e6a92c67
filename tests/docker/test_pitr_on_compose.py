"""`drillbook backup database --base` and `drillbook restore database --pitr` on the reference
Compose project (configs/compose.toml): a base backup through PostgreSQL's published port, the
WAL the server archives into its archive volume, and point-in-time recovery into a recreated
data volume.

A row committed after the base backup comes back from the WAL (to the end of the WAL: nothing
committed is lost); a restore to a point in time keeps a row committed before it and not one
committed after it, from the same base backup across the first restore's new timeline (the WAL
the first restore salvaged joined the archive). Every container is back as it was, the volume is
a new one each time, and the archive volume is kept. A recovery whose runner was killed is
finished by the service's own container once `drillbook undo` starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from drillbook.config.loader import load_config
from drillbook.engine.undo import UndoJournal
from drillbook.platforms.docker_engine import engine_address
from drillbook.platforms.docker_project import journal_path
from tests.docker.engine import (
    CONFIG,
    EVIDENCE_DSN,
    PROJECT,
    ROOT,
    docker,
    project_containers,
    wait_for,
)

VOLUME = f"{PROJECT}_pgdata"
ARCHIVE_VOLUME = f"{PROJECT}_pgwal-archive"
IMAGE = "drillbook/postgres:local"
MARKER = "drillbook-pitr-test-marker"
"""A file put at the top of a volume: gone when the volume is a new one, there when kept (the
engine's CreatedAt of a volume is its folder's modification time: no proof of either)."""
COMMAND_TIMEOUT_SECONDS = 300.0
RECOVERING_TIMEOUT_SECONDS = 180.0
"""The drill's start, its backups, the fault and the restore's preparation."""
BACK_TIMEOUT_SECONDS = 120.0


def _drillbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args, "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _insert(marker: str) -> datetime:
    """The marker committed; the server's clock once it is (what a recovery target compares
    commit times with)."""
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drillbook_pitr_marker (marker text)")
        conn.execute("INSERT INTO drillbook_pitr_marker VALUES (%s)", (marker,))
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _markers() -> set[str]:
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5) as conn:
        rows = conn.execute("SELECT marker FROM drillbook_pitr_marker").fetchall()
    return {str(r[0]) for r in rows}


def _in_volume(volume: str, script: str) -> str:
    """`script` run by sh in a throwaway container with `volume` at /v (as root: a volume's
    top folder belongs to the server's user)."""
    return docker(
        "run", "--rm", "--user", "0", "--network", "none", "--entrypoint", "/bin/sh",
        "-v", f"{volume}:/v", IMAGE, "-c", script,
    )  # fmt: skip


def _mark(volume: str) -> None:
    _in_volume(volume, f"echo marked > /v/{MARKER}")


def _marked(volume: str) -> bool:
    return _in_volume(volume, f"test -f /v/{MARKER} && echo yes || echo no").strip() == "yes"


def _restore(*args: str) -> dict[str, Any]:
    restore = _drillbook("restore", "database", *args)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    figures: dict[str, Any] = json.loads(restore.stdout[restore.stdout.index("{") :])
    return figures


def test_base_backup_and_point_in_time_recovery_into_a_recreated_volume(
    compose_project: dict[str, str],
) -> None:
    containers_before = project_containers()
    before_base, after_base = uuid.uuid4().hex, uuid.uuid4().hex
    _insert(before_base)

    backup = _drillbook("backup", "database", "--base")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    found = re.search(r"drillbook: base backup (base-[0-9-]+) \((\d+) bytes\)", backup.stdout)
    assert found is not None, backup.stdout
    base_name = found[1]
    _insert(after_base)  # in no backup: only in the WAL
    _mark(VOLUME)
    _mark(ARCHIVE_VOLUME)

    latest = _restore("--pitr", "latest")
    print(f"pitr on compose (to the end of the WAL): {latest}")
    assert latest["mode"] == "pitr", latest
    assert latest["backup"]["name"] == base_name, latest
    assert latest["target"] is None, latest
    assert f"recovered into a recreated volume {VOLUME}" in latest["notes"], latest
    assert {before_base, after_base} <= _markers(), "every committed row is back"
    assert not _marked(VOLUME), "the data volume is a new one"
    assert _marked(ARCHIVE_VOLUME), "the WAL archive is kept"
    assert project_containers() == containers_before

    # To a point in time, from the same base backup: across the first restore's promotion.
    kept, undone = uuid.uuid4().hex, uuid.uuid4().hex
    target = _insert(kept)
    _insert(undone)
    _mark(VOLUME)
    to_time = _restore("--pitr", target.isoformat())
    print(f"pitr on compose (to {target.isoformat()}): {to_time}")
    assert to_time["mode"] == "pitr" and to_time["backup"]["name"] == base_name, to_time
    assert to_time["target"] == target.isoformat(), to_time
    markers = _markers()
    assert {before_base, after_base, kept} <= markers, "everything up to the target is back"
    assert undone not in markers, "a row committed after the target is not"
    assert not _marked(VOLUME), "the data volume is a new one"
    assert project_containers() == containers_before

    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("DROP TABLE drillbook_pitr_marker")
    _in_volume(ARCHIVE_VOLUME, f"rm -f /v/{MARKER}")


def _recovering() -> bool:
    """A restore's container (label drillbook.throwaway=restore) is running: the data volume
    holds the base backup and the recovery's settings."""
    found = docker("ps", "--filter", "label=drillbook.throwaway=restore", "--format", "{{.Names}}")
    return bool(found.split())


def _postgres_promoted() -> bool:
    try:
        with psycopg.connect(EVIDENCE_DSN, connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return row is not None and not row[0]


def test_a_recovery_whose_runner_was_killed_is_finished_by_the_service(
    compose_project: dict[str, str], tmp_path: Path
) -> None:
    """The PITR drill's runner SIGKILLed while the restore's server recovers: `drillbook undo`
    removes that container and starts the service's own, whose entrypoint finds recovery.signal
    and the recovery's settings in the volume and finishes the recovery (a row committed before
    the drill is there; the server is promoted, not an empty new cluster)."""
    containers_before = project_containers()
    marker = uuid.uuid4().hex
    _insert(marker)
    runner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "drills/monthly/test_database_failure.py", "-k", "pitr",
         "--drillbook-config", str(CONFIG), "--drillbook-runs-dir", str(tmp_path),
         "-p", "no:cacheprovider", "--drillbook-no-progress"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its Locust processes die with it
    )  # fmt: skip
    try:
        wait_for(_recovering, timeout=RECOVERING_TIMEOUT_SECONDS, what="the PITR's recovery")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    pending = UndoJournal(_journal()).pending()
    assert pending, "the killed drill left its fault's undo in the journal"

    undo = _drillbook("undo")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    took = wait_for(_postgres_promoted, timeout=BACK_TIMEOUT_SECONDS, what="postgres promoted")
    print(f"pitr on compose: recovery finished by the service after the kill in {took:.1f} s")
    assert not _recovering(), "the restore's container was removed"
    assert marker in _markers(), "a row committed before the drill is there"
    wait_for(
        lambda: project_containers() == containers_before,
        timeout=BACK_TIMEOUT_SECONDS,
        what=f"containers as before ({containers_before})",
    )
    assert UndoJournal(_journal()).pending() == []
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("DROP TABLE drillbook_pitr_marker")


def _journal() -> Path:
    config = load_config(CONFIG)
    assert config.docker.project is not None
    return journal_path(config.docker.project, engine_address(config.docker.host))
