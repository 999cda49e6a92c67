"""Checklist items that rest on backups: "backups current", and the restore test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from drillbook.backup.errors import BackupError
from drillbook.backup.local import DatabaseBackups
from drillbook.config.durations import format_duration
from drillbook.engine.checks import checklist_item
from drillbook.engine.steps import Check, CheckResult

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


def backups_current(backups: DatabaseBackups) -> Check:
    """The plan's "backups current": the newest dump is younger than the backup schedule."""

    @checklist_item("backups current")
    def check(drill: Drill) -> CheckResult:
        allowed = backups.settings.schedule_seconds
        try:
            newest = backups.newest_dump()
        except BackupError as exc:
            return CheckResult("backups current", False, f"no current backup: {exc}")
        age = newest.age_seconds(datetime.now(UTC))
        passed = age <= allowed
        return CheckResult(
            "backups current",
            passed,
            f"newest backup {newest.name} is {format_duration(max(age, 0.0))} old; the "
            f"schedule allows {format_duration(allowed)}"
            + ("" if passed else f": overdue by {format_duration(age - allowed)}"),
            {**newest.figures(), "allowed_age_seconds": allowed},
        )

    return check


def newest_backup_restores(backups: DatabaseBackups) -> Check:
    """A backup that has never been restored is not a backup: the newest one, restored into a
    scratch database, holds at least the rows the table had when it was taken, and its hash
    chain is intact."""

    @checklist_item("newest backup restores")
    def check(drill: Drill) -> CheckResult:
        try:
            result = backups.check_newest_restores()
        except BackupError as exc:
            return CheckResult("newest backup restores", False, str(exc))
        return CheckResult(
            "newest backup restores", result.passed, result.describe(), result.figures()
        )

    return check
