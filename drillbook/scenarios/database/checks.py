"""Checklist items that rest on the write ledger: "data integrity verified" and the plan's
`SELECT COUNT(*) FROM evidence_records` held against the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.engine.checks import checklist_item
from drillbook.engine.steps import CheckResult
from drillbook.errors import InvalidDrill
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


@checklist_item("data integrity verified")
def data_integrity_verified(drill: Drill) -> CheckResult:
    """Every acknowledged write is stored once, unaltered, in order, and the chain is intact."""
    name = "data integrity verified"
    ledger = _ledger(drill)
    if ledger is None:
        return CheckResult(name, False, _NO_LEDGER)
    try:
        result = ledger.check(drill.fault_at)
    except ReadBackFailed as exc:
        return CheckResult(name, False, str(exc))
    assert result is not None
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
    ledger = _ledger(drill)
    if ledger is None:
        return CheckResult(name, False, _NO_LEDGER)
    try:
        result = ledger.check(drill.fault_at)
    except ReadBackFailed as exc:
        return CheckResult(name, False, str(exc))
    assert result is not None
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
