"""Database backups of the embedded stack: what `drillbook backup|restore database` and the
database drills call.

    backups = DatabaseBackups.for_stack(stack, config)
    backups.take_dump()            # pg_dump | gzip -> s3://eleanor-backups/database/..., retention
    backups.take_base_backup()     # pg_basebackup, for PITR with the WAL archive
    backups.restore("latest")                       # the newest dump
    backups.restore("latest", pitr="latest")        # base backup + every WAL there is
    backups.restore("latest", pitr=datetime(...))   # ... up to a point in time
    backups.check_newest_restores()                 # the restore test, in a scratch database

Every backup taken and every restore made is remembered (`taken`, `used`) for the report.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from drillbook.backup.dump import take_dump, verify_gzip
from drillbook.backup.errors import BackupError
from drillbook.backup.pitr import BaseBackup, base_backups, choose_base_backup, take_base_backup
from drillbook.backup.restore import (
    LocalDatabase,
    RestoreCheck,
    RestoreResult,
    check_dump_restores,
    restore_dump,
    restore_pitr,
)
from drillbook.backup.store import BackupStore, StoredBackup, backup_name
from drillbook.config.model import BackupSettings, DrillbookConfig
from drillbook.platforms.local import LocalPlatform
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.services.moto import aws_env, endpoint_url
from drillbook.stack.services.postgres import DATABASE_NAME, DATABASE_USER, PostgresService

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

DumpRestorer = Callable[..., RestoreResult]
"""(db, dump path, *, name, backup) -> RestoreResult, as restore_dump."""
PitrTarget = datetime | str | None
"""None: restore a dump. "latest": PITR to the end of the WAL. A datetime: PITR to that time."""


def parse_pitr_target(text: str) -> datetime | str:
    """`--pitr latest` or an ISO 8601 time (UTC when it has no offset)."""
    if text == "latest":
        return text
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BackupError(
            f"--pitr {text!r} is not a time; give 'latest' or an ISO 8601 time such as "
            "2026-11-27T15:40:00Z"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass
class DatabaseBackups:
    """Dumps in S3, base backups and the WAL archive of one local database, and its restores."""

    db: LocalDatabase
    store: BackupStore
    settings: BackupSettings
    taken: list[dict[str, Any]] = field(default_factory=list)
    """Backups taken through this object (dumps and base backups), for the report."""
    used: list[dict[str, Any]] = field(default_factory=list)
    """Restores made through this object, with the backup each one used."""
    checked: list[RestoreCheck] = field(default_factory=list)
    dump_restorer: DumpRestorer | None = None
    """How a dump is restored where the data directory is not this machine's (a Compose
    service's volume: drillbook.backup.compose); None: scratch cluster and swap."""
    pitr_refusal: str | None = None
    """Why point-in-time recovery cannot work on this database (None: it can)."""

    @classmethod
    def for_stack(cls, stack: LocalStack, config: DrillbookConfig) -> DatabaseBackups:
        db = LocalDatabase(
            pg_bin=postgres_bin_dir(config.stack.postgres_bin_dir),
            run_dir=stack.run_dir,
            port=stack.port("postgres"),
            # The database's own component only: works on any stack that has PostgreSQL.
            platform=LocalPlatform(stack.supervisor, PostgresService().components(stack)),
            # The service's own table, which the ledger reads too: what a restore must hold.
            records_table=config.ledger.table,
        )
        aws_port = stack.port("aws")
        store = BackupStore(
            config.backup,
            endpoint_url=config.backup.endpoint_url or endpoint_url(aws_port),
            credentials=aws_env(aws_port),
            # The stack's own S3 starts empty; a real bucket is never created by a drill.
            create_bucket=config.backup.endpoint_url is None,
        )
        return cls(db, store, config.backup)

    # -- backups ---------------------------------------------------------------------------
    def evidence_rows(self) -> int | None:
        """Rows in the records table now (None: no such table, or the database is down)."""
        table = sql.Identifier(*self.db.records_table.split("."))
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.db.dsn(), connect_timeout=3) as conn,
        ):
            row = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(table)).fetchone()
            return int(row[0]) if row is not None else None
        return None

    def take_dump(self) -> StoredBackup:
        """The plan's daily backup: pg_dump | gzip, upload to S3, then the 30-day retention."""
        now = datetime.now(UTC)
        name = backup_name(self.settings.name_prefix, now)
        if self.store.exists(name):
            # The name has one-second resolution: never overwrite a backup, take the next one.
            time.sleep(1.05 - now.microsecond / 1e6)
            now = datetime.now(UTC)
            name = backup_name(self.settings.name_prefix, now)
        self.db.work_dir.mkdir(parents=True, exist_ok=True)
        rows_before = self.evidence_rows()
        staged = self.db.work_dir / name
        dump = take_dump(
            self.db.pg_bin,
            host="127.0.0.1",
            port=self.db.port,
            user=DATABASE_USER,
            database=DATABASE_NAME,
            target=staged,
        )
        try:
            metadata = {"sha256": dump.sha256, "database": DATABASE_NAME}
            if rows_before is not None:
                metadata["evidence-rows-before"] = str(rows_before)
            stored = self.store.upload(dump.path, name, metadata)
        finally:
            staged.unlink(missing_ok=True)
        expired = self.store.enforce_retention(
            datetime.now(UTC), timedelta(seconds=self.settings.retention_seconds)
        )
        self.taken.append({"kind": "dump", **stored.figures(), "expired": expired})
        return stored

    def take_base_backup(self) -> BaseBackup:
        if self.pitr_refusal is not None:
            raise BackupError(f"no base backup: {self.pitr_refusal}")
        base = take_base_backup(
            self.db.pg_bin, port=self.db.port, base_dir=self.db.base_dir, now=datetime.now(UTC)
        )
        self.taken.append({"kind": "base", **base.figures()})
        return base

    def newest_dump(self) -> StoredBackup:
        return self.store.newest()

    def newest_base_backup(self) -> BaseBackup | None:
        found = base_backups(self.db.base_dir)
        return found[-1] if found else None

    def fetch(self, backup: str) -> tuple[StoredBackup, Path]:
        """Resolve ('latest' or a name), download, verify sha256 and gzip: before any change."""
        stored = self.store.resolve(backup)
        self.db.work_dir.mkdir(parents=True, exist_ok=True)
        local = self.db.work_dir / stored.name
        try:
            self.store.download(stored, local)
            verify_gzip(local, stored.name)
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        return stored, local

    # -- restores --------------------------------------------------------------------------
    def restore(self, backup: str = "latest", *, pitr: PitrTarget = None) -> RestoreResult:
        """The plan's `./scripts/restore_database.sh --backup=latest`, as a dump or a PITR."""
        if pitr is not None:
            if self.pitr_refusal is not None:
                raise BackupError(f"no point-in-time recovery: {self.pitr_refusal}")
            target = None if pitr == "latest" else pitr
            assert target is None or isinstance(target, datetime)
            base = (
                choose_base_backup(self.db.base_dir, target)
                if backup == "latest"
                else self._named_base(backup)
            )
            result = restore_pitr(self.db, base, target=target)
        else:
            stored, local = self.fetch(backup)
            try:
                restorer = self.dump_restorer or restore_dump
                result = restorer(self.db, local, name=stored.name, backup=stored.figures())
            finally:
                local.unlink(missing_ok=True)
        self.used.append(result.figures())
        return result

    def _named_base(self, name: str) -> BaseBackup:
        for base in base_backups(self.db.base_dir):
            if base.name == name:
                return base
        known = ", ".join(b.name for b in base_backups(self.db.base_dir)) or "none"
        raise BackupError(
            f"no base backup named {name!r} in {self.db.base_dir} (there are: {known}); "
            "with --pitr, --backup names a base backup or is 'latest'"
        )

    def check_newest_restores(self) -> RestoreCheck:
        """The restore test: the newest dump into a scratch database, counted and verified."""
        stored, local = self.fetch("latest")
        try:
            rows = stored.metadata.get("evidence-rows-before")
            result = check_dump_restores(
                self.db,
                local,
                name=stored.name,
                backup=stored.figures(),
                expected_min_rows=int(rows) if rows is not None else None,
            )
        finally:
            local.unlink(missing_ok=True)
        self.checked.append(result)
        return result

    def figures(self) -> dict[str, Any]:
        return {
            "store": self.store.where,
            "taken": list(self.taken),
            "used": list(self.used),
            "restore_checks": [c.figures() for c in self.checked],
        }
