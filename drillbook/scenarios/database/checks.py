"""The database scenario's checklist items: those that rest on the write ledger ("data integrity
verified", and the plan's `SELECT COUNT(*) FROM evidence_records` held against the ledger) and
those that rest on backups ("backups current", and the restore test).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from drillbook.backup.errors import BackupError
from drillbook.backup.local import DatabaseBackups
from drillbook.config.durations import format_duration
from drillbook.core.steps import Check, CheckResult, checklist_item
from drillbook.errors import InvalidDrill
from drillbook.ledger.checker import LedgerCheck
from drillbook.ledger.sources import ReadBackFailed
from drillbook.ledger.writer import LedgerWriter

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


_NO_LEDGER = "no write ledger in this drill (set [ledger] write_path in the configuration)"


def _ledger(drill: Drill) -> LedgerWriter | None:
    try:
        companion = drill.companion("ledger")
    except InvalidDrill:
        return None
    return companion if isinstance(companion, LedgerWriter) else None


def _read_back(drill: Drill, name: str) -> tuple[LedgerWriter, LedgerCheck] | CheckResult:
    """The drill's ledger and what it reads back now; or the failed `name` saying why not."""
    ledger = _ledger(drill)
    if ledger is None:
        return CheckResult(name, False, _NO_LEDGER)
    try:
        result = ledger.check(drill.fault_at)
    except ReadBackFailed as exc:
        return CheckResult(name, False, str(exc))
    assert result is not None
    return ledger, result


@checklist_item("data integrity verified")
def data_integrity_verified(drill: Drill) -> CheckResult:
    """Every acknowledged write is stored once, unaltered, in order, and the chain is intact."""
    name = "data integrity verified"
    read = _read_back(drill, name)
    if isinstance(read, CheckResult):
        return read
    ledger, result = read
    chain = ledger.last_chain
    passed = result.intact and result.reordered == 0 and (chain is None or chain.intact)
    detail = f"{result.describe()}; " + (
        chain.describe() if chain is not None else "the store has no hash chain to verify"
    )
    return CheckResult(
        name,
        passed,
        detail,
        {**result.figures(), "chain": chain.figures() if chain is not None else None},
    )


@checklist_item("evidence count matches the ledger")
def evidence_count_matches_ledger(drill: Drill) -> CheckResult:
    """The plan's `SELECT COUNT(*) FROM evidence_records`: at least what was there before the
    drill plus every write acknowledged since, and none of those missing."""
    name = "evidence count matches the ledger"
    read = _read_back(drill, name)
    if isinstance(read, CheckResult):
        return read
    ledger, result = read
    count, before = ledger.records_after, ledger.records_before
    if count is None or before is None:
        return CheckResult(name, False, f"{ledger.source.description} cannot be counted")
    expected = before + result.acknowledged
    passed = count >= expected and not result.lost
    return CheckResult(
        name,
        passed,
        f"SELECT COUNT(*) = {count}; {before} before the drill + {result.acknowledged} "
        f"acknowledged by the ledger = at least {expected} expected; "
        f"{len(result.lost)} acknowledged write(s) missing",
        {
            "count": count,
            "before": before,
            "acknowledged": result.acknowledged,
            "expected_at_least": expected,
            "lost": len(result.lost),
        },
    )


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
