"""Point-in-time recovery of a crashed, damaged cluster keeps every write acknowledged after
the base backup: against a real PostgreSQL, in the sequences that lost them.

1. The PITR drill's open defect (2 of 4 loaded monthly runs lost every write after the base
   backup): `pg_basebackup -Xs` had streamed the beginning of the segment after the backup
   (the WAL written between the backup's end and its streamer's stop) into the backup's
   pg_wal. The salvage skipped the failed cluster's full copy of that segment because a file
   of its name was there, and recovery replayed the beginning and stopped. Seen in a drill run
   dir: the base backup's pg_wal held 000000010000000000000003 up to 0/3000668 (2 commits),
   the failed cluster's ran to the crash, the restore ended at 0/3000668. Reproduced here by
   leaving in the base backup exactly what the streamer leaves (the segment up to the flush
   point, zero-padded), since when the streamer stops is a matter of scheduling.
2. A restore test that recovered the same base backup, promoted and archived into the shared
   archive: a foreign branch (00000002.history) whose branch point precedes the later writes.
   `recovery_target_timeline=latest` followed it; the failed cluster's own timeline does not.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from drillbook.backup.cluster import ScratchServer, chown_to_server_user, copy_tree
from drillbook.backup.pitr import BaseBackup, take_base_backup
from drillbook.backup.restore import LocalDatabase, restore_pitr
from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from drillbook.platforms.local import LocalPlatform
from drillbook.platforms.ports import free_ports
from drillbook.scenarios.database.faults import damage_data_file
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.local_stack import LocalStack, start_stack
from drillbook.stack.services.app import AppService
from drillbook.stack.services.postgres import PostgresService, wal_archive_command
from drillbook.stack.services.proxy import ProxyService

pytestmark = pytest.mark.integration

LEFTOVERS = (
    "pgdata.restore-*",
    "pgdata.failed-*",
    "pgdata.replaced-*",
    "backups/wal-pending-*",
    "backups/wal-salvaged-*",
)
TABLE = "pitr_writes"  # beside the service's evidence table: plain acknowledged writes


@pytest.fixture(scope="module")
def config() -> DrillbookConfig:
    return load_config(None)


@pytest.fixture(scope="module")
def stack(config: DrillbookConfig) -> Iterator[LocalStack]:
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-pitr-"))
    # The stack waits for the service behind its proxy to be healthy: PostgreSQL and those.
    started = start_stack(
        config, run_dir=run_dir, services=[PostgresService(), AppService(), ProxyService()]
    )
    try:
        yield started
    finally:
        started.stop(remove_run_dir=True)


@pytest.fixture(scope="module")
def db(stack: LocalStack, config: DrillbookConfig) -> LocalDatabase:
    database = LocalDatabase(
        pg_bin=postgres_bin_dir(config.stack.postgres_bin_dir),
        run_dir=stack.run_dir,
        port=stack.port("postgres"),
        platform=LocalPlatform(stack.supervisor, PostgresService().components(stack)),
    )
    with psycopg.connect(database.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, trace_id text)")
    return database


def write(db: LocalDatabase, tag: str, count: int) -> list[str]:
    """Insert `count` rows, each committed (acknowledged) on its own."""
    trace_ids = [f"{tag}-{i}" for i in range(count)]
    with psycopg.connect(db.dsn(), autocommit=True) as conn:
        for trace_id in trace_ids:
            conn.execute(f"INSERT INTO {TABLE} (trace_id) VALUES (%s)", (trace_id,))
    return trace_ids


def stored(db: LocalDatabase) -> set[str]:
    with psycopg.connect(db.dsn(), connect_timeout=5) as conn:
        return {row[0] for row in conn.execute(f"SELECT trace_id FROM {TABLE}")}


def base_backup(db: LocalDatabase) -> BaseBackup:
    return take_base_backup(db.pg_bin, port=db.port, base_dir=db.base_dir, now=datetime.now(UTC))


def crash_and_damage(db: LocalDatabase, config: DrillbookConfig) -> None:
    """The drill's fault: SIGKILL, then garbage over global/pg_control."""
    fault = damage_data_file(db.platform, db, config.target.components["database"])
    fault.inject()


def leftovers(db: LocalDatabase) -> list[str]:
    return [str(p) for pattern in LEFTOVERS for p in db.run_dir.glob(pattern)]


def plant_streamed_part(db: LocalDatabase, base: BaseBackup) -> str:
    """Leave in the base backup's pg_wal what pg_basebackup's WAL streamer leaves when WAL
    arrives before it stops: the segment after the backup, up to the flush point, zero-padded.
    """
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_flush_lsn())"
        ).fetchone()
    assert row is not None
    name, offset = str(row[0]), int(row[1])
    live = (db.data_dir / "pg_wal" / name).read_bytes()
    streamed = base.path / "pg_wal" / name
    assert offset > 0, (name, offset)
    if not streamed.exists():  # else the streamer did it itself, as in the failed drill
        streamed.write_bytes(live[:offset] + bytes(len(live) - offset))
        chown_to_server_user(streamed)
    return name


def archive_foreign_branch(db: LocalDatabase, base: BaseBackup, history: Path) -> None:
    """A restore test done carelessly: the base backup recovered to its end, promoted, and its
    WAL archived into the live archive (`history`: a branch at the backup's end)."""
    scratch = db.run_dir / "restore-test"
    copy_tree(base.path, scratch)
    (scratch / "recovery.signal").touch()
    chown_to_server_user(scratch / "recovery.signal")
    server = ScratchServer(
        db.pg_bin,
        scratch,
        port=free_ports(1)[0],
        socket_dir=db.socket_dir,
        settings={
            "restore_command": f"cp {db.archive_dir}/%f %p",
            "recovery_target": "immediate",
            "recovery_target_action": "promote",
            "archive_mode": "on",
            "archive_command": wal_archive_command(db.archive_dir),
        },
    )
    server.start()
    try:
        server.wait_ready(timeout=60.0, promoted=True)
        deadline = time.monotonic() + 30.0
        while not history.exists():
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.1)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        server.log_path.unlink(missing_ok=True)


def test_pitr_keeps_writes_when_the_base_backup_streamed_part_of_the_next_segment(
    db: LocalDatabase, config: DrillbookConfig
) -> None:
    own = timeline(db)
    before = write(db, "streamed-before", 3)
    base = base_backup(db)
    after_backup = write(db, "streamed-after-backup", 3)
    name = plant_streamed_part(db, base)
    after_streamer = write(db, "streamed-after-streamer", 5)
    crash_and_damage(db, config)

    result = restore_pitr(db, base, target=None)

    assert set(before + after_backup + after_streamer) <= stored(db)
    assert name in result.salvaged_wal
    assert result.timeline == str(own) and not result.notes
    # The salvaged segment is now in the archive (a .partial of it, where the restore
    # branched): a later restore from this base backup finds it.
    assert (db.archive_dir / f"{name}.partial").exists() or (db.archive_dir / name).exists()
    assert leftovers(db) == []
    assert list((db.run_dir / "logs").glob("postgres-pgdata.restore-*.log"))


def test_pitr_stays_on_the_failed_clusters_timeline_not_a_foreign_branch(
    db: LocalDatabase, config: DrillbookConfig
) -> None:
    own = timeline(db)
    base = base_backup(db)
    after_backup = write(db, "foreign-after-backup", 3)
    foreign = db.archive_dir / f"{own + 1:08X}.history"
    assert not foreign.exists()
    archive_foreign_branch(db, base, foreign)
    after_branch = write(db, "foreign-after-branch", 5)
    crash_and_damage(db, config)

    result = restore_pitr(db, base, target=None)

    assert set(after_backup + after_branch) <= stored(db)
    assert result.timeline == str(own)
    assert leftovers(db) == []


def timeline(db: LocalDatabase) -> int:
    """The live cluster's timeline (of its last checkpoint: a restore ends with one)."""
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()
    assert row is not None
    return int(row[0])
