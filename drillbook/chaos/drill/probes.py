"""Probes every experiment can use: the plan's common checklist, and its objectives.

The checks return True or False (tolerance `true`): before the fault they are the steady
state; after it they are the plan's verification (`Drill.verify`, after the service has been
watched for [verification] window), recorded in the drill record. The objective probes return
their figures (tolerance: `drillbook.chaos.tolerances.within_objective`); before any fault
they judge nothing and are within.
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.judgement import rpo_figures, rto_figures
from drillbook.chaos.judgement import writes_lost as lost_writes
from drillbook.chaos.session import current
from drillbook.chaos.steps import check
from drillbook.load import checks as load_checks
from drillbook.scenarios import common

__all__ = [
    "critical_endpoints_respond",
    "error_rate_normal",
    "health_checks_pass",
    "load_error_rate_normal",
    "performance_normal",
    "rpo_within_objective",
    "rto_within_objective",
    "writes_lost",
]


@phase("verify")
def health_checks_pass() -> bool:
    """Every configured health probe answers healthy, with its configured conditions
    ([[target.probes]]: status and body conditions)."""
    return check(current(), common.health_checks_pass)


@phase("verify")
def critical_endpoints_respond() -> bool:
    """Every configured critical endpoint ([[target.critical_endpoints]]) answers as expected."""
    return check(current(), common.critical_endpoints_respond)


@phase("verify")
def error_rate_normal() -> bool:
    """The probes' error rate since recovery is at most [verification] error_rate_max."""
    return check(current(), common.error_rate_normal)


@phase("verify")
def load_error_rate_normal() -> bool:
    """The user load's error rate after recovery is back to its baseline (plus the margin)."""
    return check(current(), load_checks.load_error_rate_normal)


@phase("verify")
def performance_normal() -> bool:
    """The user load's latency after recovery is back to its baseline (ratio and slack)."""
    return check(current(), load_checks.performance_normal)


@phase("judge")
def rto_within_objective() -> dict[str, Any]:
    """The RTO users saw (upper bound, with its error bar) against the objective of the drill's
    tier: `within_objective`, the figures, and `exceeded_by_seconds`."""
    return rto_figures(current())


@phase("judge")
def rpo_within_objective() -> dict[str, Any]:
    """The write ledger read back after recovery: writes acknowledged and lost, the RPO, and
    whether the plan's data objectives (RPO, zero evidence loss) are met."""
    return rpo_figures(current())


@phase("judge")
def writes_lost() -> int:
    """Acknowledged writes the read-back after recovery did not find (tolerance 0: none)."""
    return lost_writes(current())
