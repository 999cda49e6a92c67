"""Probes of scenario 2 (database failure): the plan's verification of the database."""

from drillbook.chaos.activity import phase
from drillbook.chaos.database.backups import backups_of
from drillbook.chaos.session import current
from drillbook.chaos.steps import check
from drillbook.engine.reach import service_checks
from drillbook.scenarios.database import checks

__all__ = ["backups_current", "data_integrity_verified", "evidence_count_matches_ledger"]


@phase("verify")
def evidence_count_matches_ledger() -> bool:
    """`SELECT COUNT(*) FROM evidence_records` holds every evidence record the ledger saw
    acknowledged (the plan's Option B check)."""
    session = current()
    return check(session, *service_checks(session.drill, checks.evidence_count_matches_ledger))


@phase("verify")
def data_integrity_verified() -> bool:
    """The records read back are the ones written: none duplicated or altered, the hash chain
    intact."""
    session = current()
    return check(session, *service_checks(session.drill, checks.data_integrity_verified))


@phase("verify")
def backups_current() -> bool:
    """The newest dump is younger than [backup] schedule (the plan's checklist)."""
    session = current()
    return check(session, checks.backups_current(backups_of(session)))
