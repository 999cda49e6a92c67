"""Restores that cannot leave a half state: build in scratch, verify, then swap.

Every restore builds a complete cluster in a scratch directory beside the live one
(`pgdata.restore-<stamp>`), started on its own port, checked (the records table, `[ledger]
table`, is counted and its hash chain verified when it has one), and stopped cleanly. Only then
is the live data directory renamed away and the scratch one renamed into its place (two renames
on one file system), and the database started through the platform. If anything fails before
the swap, the scratch is deleted and the live database is restarted as it was; if the
swapped-in cluster does not come up, the renames are reversed. Either way nothing is left half
restored.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

import psycopg
from psycopg import sql

from drillbook.backup.cluster import (
    ScratchServer,
    chown_to_server_user,
    copy_tree,
    remove_tree,
    server_user,
)
from drillbook.backup.dump import load_dump
from drillbook.backup.errors import BackupError, RestoreFailed
from drillbook.backup.pitr import (
    LABEL_FILE,
    BaseBackup,
    merge_archive,
    merge_salvaged,
    recovery_settings,
    salvage_wal,
)
from drillbook.backup.wal import choose_timeline, system_identifier
from drillbook.core.platform import Platform
from drillbook.errors import DrillError
from drillbook.ledger.sources import ReadBackFailed, TableSource
from drillbook.platforms.ports import free_ports
from drillbook.stack.services.postgres import (
    DATABASE_NAME,
    DATABASE_USER,
    WAL_ARCHIVE_DIR,
    create_database,
    init_cluster,
    prepare_wal_archive,
)

EVIDENCE_TABLE = "evidence_records"
"""The reference schema's table: what a restore counts unless the configuration names another
(`[ledger] table`, threaded through `LocalDatabase.records_table`)."""
RestoreMode = Literal["dump", "pitr"]


@dataclass
class LocalDatabase:
    """The embedded stack's PostgreSQL, as backups and restores need it."""

    pg_bin: Path
    run_dir: Path
    port: int
    platform: Platform
    component: str = "database"
    ready_timeout_seconds: float = 60.0
    records_table: str = EVIDENCE_TABLE
    """The table restores and the restore test count (and chain-verify): `[ledger] table`."""

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.run_dir / "pgsocket"

    @property
    def archive_dir(self) -> Path:
        return self.run_dir / WAL_ARCHIVE_DIR

    @property
    def base_dir(self) -> Path:
        return self.run_dir / "backups" / "base"

    @property
    def work_dir(self) -> Path:
        """Where dumps are staged on their way to and from S3."""
        return self.run_dir / "backups" / "work"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://{DATABASE_USER}@127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        return any(r.running for r in self.platform.replicas(self.component))

    def stop(self) -> None:
        self.platform.stop(self.component)

    def start(self) -> None:
        """Start through the platform (the plan's pod) and wait until it answers."""
        self.platform.start(self.component)
        self.platform.wait_until_ready(self.component, timeout=self.ready_timeout_seconds)


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did, for the timeline and the report."""

    mode: RestoreMode
    backup: dict[str, Any]
    """The backup used: name, age, size (and sha256 for a dump)."""
    target: str | None
    """PITR target time (ISO 8601), None for the end of the WAL or a dump."""
    evidence_rows: int | None
    chain: dict[str, Any] | None
    salvaged_wal: tuple[str, ...] = ()
    build_seconds: float = 0.0
    swap_seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())
    timeline: str | None = None
    """PITR: the recovery_target_timeline replayed to (the failed cluster's own)."""
    table: str = EVIDENCE_TABLE
    """The table counted in `evidence_rows` (None there: it is not in the restored database)."""

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "mode": self.mode,
            "backup": self.backup,
            "target": self.target,
            "table": self.table,
            "evidence_rows": self.evidence_rows,
            "chain": self.chain,
            "salvaged_wal": list(self.salvaged_wal),
            "build_seconds": round(self.build_seconds, 3),
            "swap_seconds": round(self.swap_seconds, 3),
        }
        if self.timeline is not None:
            figures["timeline"] = self.timeline
        if self.notes:
            figures["notes"] = list(self.notes)
        return figures


@dataclass(frozen=True)
class Inspection:
    evidence_rows: int | None
    """None when the table is not there."""
    chain: dict[str, Any] | None
    table: str = EVIDENCE_TABLE
    table_found: bool = True

    @property
    def notes(self) -> tuple[str, ...]:
        if self.table_found:
            return ()
        return (f"table {self.table} does not exist in the restored database: not counted",)


def inspect_evidence(dsn: str, table: str = EVIDENCE_TABLE) -> Inspection:
    """Count the records table and verify its chain when it has the hash-chain columns (the
    plan's `SELECT COUNT(*)`). A table that is not there is said so: reading it as empty would
    pass a restore that holds none of the service's data."""
    source = TableSource(dsn, table)
    try:
        if not source.exists():
            return Inspection(None, None, table, table_found=False)
        rows = source.count()
        chain = source.chain()
    except ReadBackFailed as exc:
        raise RestoreFailed(f"the restored database cannot be read: {exc}") from None
    return Inspection(rows, chain.figures() if chain is not None else None, table)


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def _scratch_port() -> int:
    return free_ports(1)[0]


def restore_pitr(db: LocalDatabase, base: BaseBackup, *, target: datetime | None) -> RestoreResult:
    """Base backup + WAL archive (+ the failed cluster's unarchived WAL) up to `target`."""
    stamp = _stamp()
    scratch = db.run_dir / f"pgdata.restore-{stamp}"
    pending = db.archive_dir.with_name(f"wal-pending-{stamp}")
    # The failed cluster's WAL, served ahead of the archive; it joins the archive only once
    # the restore is swapped in (until then, like `pending`, it is no cluster's history).
    salvage_dir = db.archive_dir.with_name(f"wal-salvaged-{stamp}")
    started = time.monotonic()
    was_running = db.running()
    server: ScratchServer | None = None
    try:
        if was_running:
            # The restored cluster replaces this one, and its pg_wal must be still to be copied.
            db.stop()
        copy_tree(base.path, scratch)
        (scratch / LABEL_FILE).unlink(missing_ok=True)
        identifier = system_identifier(scratch)
        if identifier is None:
            raise RestoreFailed(
                f"base backup {base.name} has no readable global/pg_control; restore another "
                "base backup (--backup NAME)"
            )
        prepare_wal_archive(db.run_dir, server_user(), salvage_dir)
        salvage = salvage_wal(
            db.data_dir,
            db.archive_dir,
            scratch / "pg_wal",
            salvage_dir,
            system_identifier=identifier,
        )
        timeline = choose_timeline(salvage.timeline)
        signal_file = scratch / "recovery.signal"
        signal_file.touch()
        chown_to_server_user(signal_file)
        prepare_wal_archive(db.run_dir, server_user(), pending)
        server = ScratchServer(
            db.pg_bin,
            scratch,
            port=_scratch_port(),
            socket_dir=db.socket_dir,
            settings=recovery_settings(
                db.archive_dir, pending, target, salvaged=salvage_dir, timeline=timeline
            ),
        )
        server.start()
        server.wait_ready(timeout=db.ready_timeout_seconds, promoted=True)
        inspection = inspect_evidence(server.dsn(DATABASE_USER, DATABASE_NAME), db.records_table)
        server.stop()
        server = None
    except BaseException as exc:
        _abandon(db, server, [scratch, pending, salvage_dir], restart=was_running)
        _reraise(exc, "point-in-time recovery", db)
    built = time.monotonic() - started
    try:
        swapped = _swap(db, scratch, restart_on_failure=was_running)
    except BaseException:
        # The failed cluster is back in place with its own pg_wal: the copies go.
        remove_tree(pending)
        remove_tree(salvage_dir)
        raise
    merge_archive(pending, db.archive_dir)
    merge_salvaged(
        salvage_dir,
        db.archive_dir,
        replacing=salvage.replacing,
        superseded_dir=db.archive_dir.with_name(f"wal-superseded-{stamp}"),
    )
    _keep_log(db, scratch.with_name(scratch.name + ".log"))
    notes = salvage.notes + inspection.notes
    if salvage.timeline is None:
        notes += ("the failed cluster's timeline is unknown: recovered to the latest one",)
    return RestoreResult(
        mode="pitr",
        backup=base.figures(),
        target=target.isoformat() if target is not None else None,
        evidence_rows=inspection.evidence_rows,
        chain=inspection.chain,
        salvaged_wal=salvage.copied,
        build_seconds=built,
        swap_seconds=swapped,
        notes=notes,
        timeline=timeline,
        table=inspection.table,
    )


def _keep_log(db: LocalDatabase, log: Path) -> None:
    """The scratch server's log (how far recovery replayed, and why it stopped) goes beside
    the stack's logs, where the run directory has them; elsewhere it goes."""
    logs = db.run_dir / "logs"
    if logs.is_dir() and log.is_file():
        log.rename(logs / f"postgres-{log.name}")
    else:
        remove_tree(log)


def restore_dump(
    db: LocalDatabase, dump: Path, *, name: str, backup: dict[str, Any]
) -> RestoreResult:
    """A fresh cluster (initdb) loaded from a `pg_dump | gzip` file, then swapped in.

    The WAL archive and base backups belong to the cluster replaced, so they are retired with
    it (moved to backups/retired-<stamp>/): the restored cluster starts a new archive.
    """
    stamp = _stamp()
    scratch = db.run_dir / f"pgdata.restore-{stamp}"
    started = time.monotonic()
    was_running = db.running()
    server: ScratchServer | None = None
    try:
        init_cluster(db.pg_bin, db.run_dir, scratch)
        server = ScratchServer(db.pg_bin, scratch, port=_scratch_port(), socket_dir=db.socket_dir)
        server.start()
        server.wait_ready(timeout=db.ready_timeout_seconds)
        create_database(server.admin_dsn)
        load_dump(
            db.pg_bin,
            dump,
            name=name,
            host="127.0.0.1",
            port=server.port,
            user=DATABASE_USER,
            database=DATABASE_NAME,
        )
        inspection = inspect_evidence(server.dsn(DATABASE_USER, DATABASE_NAME), db.records_table)
        server.stop()
        server = None
    except BaseException as exc:
        # The live database was not touched: only the scratch goes.
        _abandon(db, server, [scratch], restart=False)
        _reraise(exc, f"restore of {name}", db)
    built = time.monotonic() - started
    retired = db.run_dir / "backups" / f"retired-{stamp}"
    swapped = _swap(
        db,
        scratch,
        restart_on_failure=was_running,
        before_start=lambda: _retire_archive(db, retired),
        undo_before_start=lambda: _unretire_archive(db, retired),
    )
    remove_tree(scratch.with_name(scratch.name + ".log"))
    return RestoreResult(
        mode="dump",
        backup=backup,
        target=None,
        evidence_rows=inspection.evidence_rows,
        chain=inspection.chain,
        build_seconds=built,
        swap_seconds=swapped,
        notes=inspection.notes,
        table=inspection.table,
    )


@dataclass(frozen=True)
class RestoreCheck:
    """The newest dump restored into a scratch database and examined there."""

    backup: dict[str, Any]
    evidence_rows: int | None
    expected_min_rows: int | None
    """Rows the table held when the dump started; the dump must hold at least these."""
    chain: dict[str, Any] | None
    seconds: float
    table: str = EVIDENCE_TABLE
    """The table counted (`[ledger] table`)."""
    table_found: bool = True
    """False: the restored database has no such table, and the test fails (nothing of the
    service's data was looked at)."""

    @property
    def passed(self) -> bool:
        rows_ok = self.expected_min_rows is None or (
            self.evidence_rows is not None and self.evidence_rows >= self.expected_min_rows
        )
        chain_ok = self.chain is None or bool(self.chain.get("intact"))
        return self.table_found and rows_ok and chain_ok

    def describe(self) -> str:
        restored = f"{self.backup.get('name')} restored in {self.seconds:.2f}s"
        if not self.table_found:
            return (
                f"{restored}, but table {self.table} does not exist in the restored database: "
                "nothing of the service's data was checked (is [ledger] table the service's "
                "table?)"
            )
        chain = (
            "no chain"
            if self.chain is None
            else ("chain intact" if self.chain.get("intact") else "CHAIN BROKEN")
        )
        expected = (
            f" (at least {self.expected_min_rows} expected)"
            if self.expected_min_rows is not None
            else ""
        )
        return f"{restored}: {self.evidence_rows} rows in {self.table}{expected}, {chain}"

    def figures(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "table": self.table,
            "table_found": self.table_found,
            "evidence_rows": self.evidence_rows,
            "expected_min_rows": self.expected_min_rows,
            "chain": self.chain,
            "seconds": round(self.seconds, 3),
            "passed": self.passed,
        }


def check_dump_restores(
    db: LocalDatabase,
    dump: Path,
    *,
    name: str,
    backup: dict[str, Any],
    expected_min_rows: int | None,
) -> RestoreCheck:
    """Load a dump into a scratch database of the live cluster, examine it, drop it."""
    scratch_db = f"{DATABASE_NAME}_restore_check_{_stamp().replace('-', '_')}"
    started = time.monotonic()
    try:
        with psycopg.connect(db.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(scratch_db), sql.Identifier(DATABASE_USER)
                )
            )
    except psycopg.Error as exc:
        raise RestoreFailed(f"could not create the scratch database {scratch_db}: {exc}") from None
    try:
        load_dump(
            db.pg_bin,
            dump,
            name=name,
            host="127.0.0.1",
            port=db.port,
            user=DATABASE_USER,
            database=scratch_db,
        )
        inspection = inspect_evidence(db.dsn(scratch_db), db.records_table)
    finally:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(db.admin_dsn, autocommit=True, connect_timeout=5) as conn,
        ):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(scratch_db)
                )
            )
    return RestoreCheck(
        backup=backup,
        evidence_rows=inspection.evidence_rows,
        expected_min_rows=expected_min_rows,
        chain=inspection.chain,
        seconds=time.monotonic() - started,
        table=inspection.table,
        table_found=inspection.table_found,
    )


# --------------------------------------------------------------------------- the swap


def _swap(
    db: LocalDatabase,
    scratch: Path,
    *,
    restart_on_failure: bool,
    before_start: Callable[[], None] | None = None,
    undo_before_start: Callable[[], None] | None = None,
) -> float:
    """Put the verified scratch cluster in place of the live one and start it; returns the
    seconds taken. If it does not come up, put everything back."""
    started = time.monotonic()
    replaced = db.run_dir / f"pgdata.replaced-{scratch.name.rsplit('-', 1)[-1]}-{_stamp()}"
    if db.running():
        db.stop()
    had_data = db.data_dir.exists()
    if had_data:
        db.data_dir.rename(replaced)
    scratch.rename(db.data_dir)
    try:
        if before_start is not None:
            before_start()
        db.start()
    except BaseException as exc:
        with contextlib.suppress(DrillError, OSError):
            db.stop()
        failed = db.run_dir / f"pgdata.failed-{_stamp()}"
        db.data_dir.rename(failed)
        if had_data:
            replaced.rename(db.data_dir)
        if undo_before_start is not None:
            undo_before_start()
        remove_tree(failed)
        if restart_on_failure:
            with contextlib.suppress(DrillError):
                db.start()
        raise RestoreFailed(
            f"the restored cluster did not start ({type(exc).__name__}: {exc}); the previous "
            "data directory was put back"
        ) from exc
    remove_tree(replaced)
    return time.monotonic() - started


def _retire_archive(db: LocalDatabase, retired: Path) -> None:
    retired.mkdir(parents=True)
    for source in (db.archive_dir, db.base_dir):
        if source.exists():
            source.rename(retired / source.name)
    prepare_wal_archive(db.run_dir, server_user())


def _unretire_archive(db: LocalDatabase, retired: Path) -> None:
    for name, target in (("wal", db.archive_dir), ("base", db.base_dir)):
        if (retired / name).exists():
            remove_tree(target)
            (retired / name).rename(target)
    remove_tree(retired)


def _abandon(
    db: LocalDatabase, server: ScratchServer | None, paths: list[Path], *, restart: bool
) -> None:
    """Undo a restore that failed before the swap: scratch gone, live database as it was."""
    if server is not None:
        with contextlib.suppress(Exception):
            server.stop()
    for path in paths:
        remove_tree(path)
        remove_tree(path.with_name(path.name + ".log"))
    if restart:
        with contextlib.suppress(DrillError):
            db.start()


def _reraise(exc: BaseException, what: str, db: LocalDatabase) -> NoReturn:
    """Raise `exc` as one clear error saying that the live database was left as it was."""
    if isinstance(exc, BackupError) and "left as it was" in str(exc):
        raise exc
    if not isinstance(exc, Exception):
        raise exc  # Ctrl-C, SIGTERM: the scratch is gone, stop here
    kind = type(exc) if isinstance(exc, BackupError) else RestoreFailed
    detail = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
    raise kind(
        f"{what} failed: {detail}; the scratch cluster was removed and the live database in "
        f"{db.data_dir} was left as it was"
    ) from None
