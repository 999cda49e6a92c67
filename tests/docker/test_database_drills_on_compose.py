"""The database's backup drills, unchanged, on the reference Compose project
(configs/compose.toml): Option B (a data file damaged, restored from the plan's daily dump into a
recreated volume; and restored by point-in-time recovery, base backup and WAL archive, with no
evidence lost) and the monthly restore test of the newest dump run on containers. The damaged
file's undo is crash-safe: a fault left pending by a run that died is put back by `drillbook
undo`."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drillbook.backup.compose import compose_database, state_dir
from drillbook.config.loader import load_config
from drillbook.engine.undo import UndoJournal
from drillbook.platforms.docker_engine import connect, engine_address
from drillbook.platforms.docker_files import content_of, with_content
from drillbook.platforms.docker_project import docker_platform, journal_path
from drillbook.scenarios.database.faults import CONTROL_FILE, damage_bytes, damage_data_file
from tests.docker.drill_runs import run_compose_drills
from tests.docker.engine import (
    CONFIG,
    EVIDENCE_DSN,
    PROJECT,
    ROOT,
    docker,
    project_containers,
    wait_for,
)

PITR = "B: data file damaged, restore from backup with PITR"
DAILY_DUMP = "B: data file damaged, restore from the daily dump only"
RESTORE_TEST = "restore test of the newest backup"
VOLUME = f"{PROJECT}_pgdata"
BACK_TIMEOUT_SECONDS = 120.0
UNDO_TIMEOUT_SECONDS = 300.0


def _journal() -> Path:
    config = load_config(CONFIG)
    assert config.docker.project is not None
    return journal_path(config.docker.project, engine_address(config.docker.host))


def _saved_originals() -> list[Path]:
    """Damaged files' originals kept beside the journal (none once every undo has run)."""
    return sorted((_journal().parent / "faults").glob("*.orig.tar"))


def _postgres_healthy() -> bool:
    out = docker(
        "ps",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
        "--filter",
        "label=com.docker.compose.service=postgres",
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}}",
    )
    return bool(out.split())


@pytest.fixture(scope="module")
def database_run(compose_project: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    before = project_containers()
    run = run_compose_drills(
        tmp_path_factory.mktemp("compose-db-runs"),
        ["drills/monthly/test_database_failure.py", "drills/monthly/test_backup_restore.py"],
        "data_file_damaged or newest_backup",
    )
    return run, before, project_containers()


def test_option_b_and_the_restore_test_run_on_compose(database_run: Any) -> None:
    run, _, _ = database_run
    drills = {d["option"]: d for d in run["drills"]}
    assert set(drills) == {PITR, DAILY_DUMP, RESTORE_TEST}, run["output"]
    assert run["platform"] == "docker", run["platform"]
    # The xfail (the daily dump's RPO breach, strict) keeps pytest's exit 0.
    assert run["returncode"] == 0, run["output"]
    for option, drill in sorted(drills.items()):
        print(f"compose: {option}: {drill['outcome']}, RTO {drill['rto']}, {drill['phases']}")

    pitr = drills[PITR]
    assert pitr["outcome"] == "passed", f"{pitr['outcome']}: {pitr['failure']}"
    assert f"in volume {VOLUME}" in str(pitr["fault"]), pitr["fault"]
    rto, rpo = pitr["rto"], pitr["rpo"]
    print(f"compose: PITR drill: RTO {rto['seconds']} s, RPO {rpo}")
    assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    # Zero evidence lost: what only the WAL held (written after the base backup, up to the
    # crash) came back from the archive and the failed cluster's own pg_wal.
    assert rpo["lost"] == 0 and rpo["acknowledged"] > 0, rpo
    pitr_backups = pitr["companions"]["backup"]
    (recovered,) = pitr_backups["used"]
    assert recovered["mode"] == "pitr" and recovered["target"] is None, recovered
    assert [t["kind"] for t in pitr_backups["taken"]] == ["dump", "base"], pitr_backups
    assert recovered["backup"]["name"] == pitr_backups["taken"][1]["name"], pitr_backups
    assert f"recovered into a recreated volume {VOLUME}" in recovered["notes"], recovered
    assert recovered["chain"]["intact"], recovered["chain"]
    assert recovered["salvaged_wal"], "the segment being written at the crash was salvaged"

    dump = drills[DAILY_DUMP]
    # The plan's daily dump cannot meet zero evidence loss: the drill's expected breach.
    assert dump["outcome"] == "xfailed", f"{dump['outcome']}: {dump['failure']}"
    assert "RPO breach" in str(dump["failure"]), dump["failure"]
    assert f"in volume {VOLUME}" in str(dump["fault"]), dump["fault"]
    rto = dump["rto"]
    assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    # What the ledger wrote before the dump came back; what it wrote after was lost.
    rpo = dump["rpo"]
    assert 0 < rpo["lost"] < rpo["acknowledged"], rpo
    backup = dump["companions"]["backup"]
    (used,) = backup["used"]
    assert used["mode"] == "dump", used
    assert used["backup"]["name"] == backup["taken"][0]["name"], backup
    assert used["chain"]["intact"], used["chain"]
    assert used["evidence_rows"] >= rpo["acknowledged"] - rpo["lost"], (used, rpo)

    restore_test = drills[RESTORE_TEST]
    assert restore_test["outcome"] == "passed", restore_test["failure"]
    checks = {c["name"]: c for c in restore_test["checks"]}
    assert checks["newest backup restores"]["passed"], checks
    (checked,) = restore_test["companions"]["backup"]["restore_checks"]
    assert checked["passed"] and checked["chain"]["intact"], checked
    assert checked["evidence_rows"] >= checked["expected_min_rows"] > 0, checked


def test_every_fault_of_the_database_drills_is_undone(database_run: Any) -> None:
    _, before, after = database_run
    assert after == before, f"container states before {before}, after {after}"
    assert UndoJournal(_journal()).pending() == []
    assert _saved_originals() == []


def test_a_damaged_data_file_left_by_a_dead_run_is_put_back_by_drillbook_undo(
    compose_project: dict[str, str],
) -> None:
    """The fault injected and journaled as a drill does, then its runner gone: the next
    `drillbook undo` puts the original control file back, and the database starts on its own
    data (a row from before the fault is there: not a new volume, nor a restore)."""
    containers_before = project_containers()
    marker = uuid.uuid4().hex
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drillbook_undo_marker (marker text)")
        conn.execute("INSERT INTO drillbook_undo_marker VALUES (%s)", (marker,))

    config = load_config(CONFIG)
    client = connect(config.docker.host, timeout=config.docker.request_timeout_seconds)
    try:
        platform = docker_platform(client, config, _journal())
        database = config.target.components["database"]
        db = compose_database(platform, config, state_dir(platform))
        fault = damage_data_file(platform, db, database)
        assert fault.undo is not None
        UndoJournal(_journal()).push(fault.undo)  # journaled first, as a drill does
        figures = fault.inject()
        assert figures is not None
        assert figures["damaged_file"] == CONTROL_FILE, figures
        archive = platform.read_volume_file("database", VOLUME, CONTROL_FILE)
        assert archive is not None
        damaged = content_of(archive)
        assert damaged == damage_bytes(len(damaged)), "the control file holds the damage"
        assert hashlib.sha256(damaged).hexdigest() == fault.undo.args["if_sha256"]
        # Killed through the engine: its restart policy does not start it on the damage.
        assert not _postgres_healthy()
        assert len(_saved_originals()) == 1
    finally:
        client.close()

    undo = subprocess.run(
        [sys.executable, "-m", "drillbook.cli", "undo", "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=UNDO_TIMEOUT_SECONDS,
        check=False,
    )
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert f"undone: put back the original {CONTROL_FILE}" in undo.stdout, undo.stdout
    took = wait_for(_postgres_healthy, timeout=BACK_TIMEOUT_SECONDS, what="postgres healthy")
    print(f"compose: damaged pg_control put back by drillbook undo; healthy after {took:.1f} s")
    wait_for(
        lambda: project_containers() == containers_before,
        timeout=BACK_TIMEOUT_SECONDS,
        what=f"containers as before ({containers_before})",
    )
    assert UndoJournal(_journal()).pending() == []
    assert _saved_originals() == []
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute("SELECT marker FROM drillbook_undo_marker").fetchall()
        conn.execute("DROP TABLE drillbook_undo_marker")
    assert (marker,) in rows, "the database started on its own data"


def test_a_file_keeps_its_owner_mode_and_name_when_its_content_is_replaced() -> None:
    """The archive written over the control file (and the original put back) is the engine's
    own one-member archive: PostgreSQL refuses a control file not owned by it."""
    info = tarfile.TarInfo("pg_control")
    info.uid, info.gid, info.mode, info.size = 999, 999, 0o600, 4
    original = io.BytesIO()
    with tarfile.open(fileobj=original, mode="w") as tar:
        tar.addfile(info, io.BytesIO(b"good"))
    replaced = with_content(original.getvalue(), damage_bytes(8192))
    assert content_of(original.getvalue()) == b"good"
    assert content_of(replaced) == damage_bytes(8192)
    with tarfile.open(fileobj=io.BytesIO(replaced)) as tar:
        (member,) = tar.getmembers()
    assert (member.name, member.uid, member.gid, member.mode) == ("pg_control", 999, 999, 0o600)
