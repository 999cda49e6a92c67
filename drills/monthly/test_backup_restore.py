"""The restore test of the plan's database backups: a backup that has never been restored is
not a backup.

The plan's Backup Procedures take `pg_dump | gzip` daily (kept 30 days in
s3://eleanor-backups/database/). Every month the newest one is restored into a scratch
database, its evidence counted (at least the rows the table held when the dump started) and its
hash chain verified; the scratch database is dropped afterwards. Nothing is injected: the drill
is the restore.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drillbook.backup.errors import BackupNotFound
from drillbook.backup.local import DatabaseBackups
from drillbook.engine.drill import Drill
from drillbook.scenarios.database.checks import backups_current, newest_backup_restores

pytestmark = pytest.mark.drill(scenario="database-backup", component="database")


@pytest.mark.drill(option="restore test of the newest backup")
def test_newest_backup_restores_into_scratch_database(
    drill: Drill, database_backups: DatabaseBackups
) -> None:
    """The newest database backup restores: rows counted, hash chain verified."""
    # The daily job, if it has not run within its schedule (a fresh embedded stack has none).
    try:
        newest = database_backups.newest_dump()
        due = newest.age_seconds(datetime.now(UTC)) > database_backups.settings.schedule_seconds
    except BackupNotFound:
        due = True
    if due:
        database_backups.take_dump()
    drill.verify(backups_current(database_backups), newest_backup_restores(database_backups))
