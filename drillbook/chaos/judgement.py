"""The drill judged against the plan's objectives once, and the figures the RTO and RPO probes
return: measured, allowed, and by how much it is over (what the journal shows of a deviation).
"""

from __future__ import annotations

from typing import Any

from drillbook.chaos.session import ChaosSession
from drillbook.config.durations import format_duration
from drillbook.errors import DrillError

_JUDGED_KEY = "judged"


def judge(session: ChaosSession) -> DrillError | None:
    """Judge the drill's objectives once (RTO for its tier, the data objectives the companions
    measure: `Drill.assert_objectives`); the breach or error it raised, None when all are met."""
    if _JUDGED_KEY not in session.memo:
        error: DrillError | None = None
        try:
            session.drill.assert_objectives()
        except DrillError as exc:
            error = exc
        session.memo[_JUDGED_KEY] = error
    judged: DrillError | None = session.memo[_JUDGED_KEY]
    return judged


def was_judged(session: ChaosSession) -> bool:
    return _JUDGED_KEY in session.memo


def rto_figures(session: ChaosSession) -> dict[str, Any]:
    """The RTO against the objective of the drill's tier, with its error bar; before any fault
    nothing is judged (the steady state before the method) and the figure is within."""
    drill = session.drill
    tier = drill.identity.tier
    allowed = drill.config.objectives.rto_for(tier)
    figures: dict[str, Any] = {
        "figure": "RTO",
        "tier": tier,
        "objective_seconds": allowed,
        "objective": format_duration(allowed),
    }
    if drill.fault is None:
        return {
            **figures,
            "judged": False,
            "within_objective": True,
            "reason": "no fault injected yet: nothing to judge",
        }
    judge(session)
    measurement = drill.measurement
    rto = None if measurement is None else measurement.rto_seconds
    if measurement is None or rto is None:
        return {
            **figures,
            "judged": True,
            "within_objective": False,
            "rto_seconds": None,
            "reason": "the service did not recover: no RTO",
        }
    bar = measurement.rto_error_bar_seconds or 0.0
    within = rto <= allowed
    verdict = (
        f"RTO {rto:.3f}s (error bar -{bar:.3f}s) "
        + ("within" if within else f"exceeds by {rto - allowed:.3f}s")
        + f" the {tier} objective {format_duration(allowed)}"
    )
    return {
        **figures,
        "judged": True,
        "within_objective": within,
        "rto_seconds": round(rto, 4),
        "error_bar_seconds": round(bar, 4),
        "time_to_detect_seconds": _rounded(measurement.time_to_detect_seconds),
        "outage_observed": measurement.outage_observed,
        "exceeded_by_seconds": round(max(0.0, rto - allowed), 4),
        "verdict": verdict,
    }


def rpo_figures(session: ChaosSession) -> dict[str, Any]:
    """Writes lost and the RPO against the plan's (zero evidence lost, RPO bound), from the
    write ledger's read-back after recovery; before any fault nothing is judged."""
    drill = session.drill
    objectives = drill.config.objectives
    figures: dict[str, Any] = {
        "figure": "RPO",
        "objective_seconds": objectives.rpo_seconds,
        "objective": format_duration(objectives.rpo_seconds),
        "evidence_loss_allowed": objectives.evidence_loss_allowed,
    }
    if drill.fault is None:
        return {
            **figures,
            "judged": False,
            "within_objective": True,
            "reason": "no fault injected yet: nothing to judge",
        }
    judge(session)
    ledger = _ledger(session)
    if "rpo_seconds" not in ledger:
        return {
            **figures,
            "judged": False,
            "within_objective": False,
            "reason": "the write ledger has no read-back to judge (is [ledger] configured?)",
        }
    rpo = float(ledger["rpo_seconds"])
    breaches = [b for b in drill.breaches if b.startswith("RPO breach")]
    return {
        **figures,
        "judged": True,
        "within_objective": not breaches,
        "rpo_seconds": round(rpo, 4),
        "writes_acknowledged": int(ledger.get("acknowledged") or 0),
        "writes_lost": int(ledger.get("lost") or 0),
        "exceeded_by_seconds": round(max(0.0, rpo - objectives.rpo_seconds), 4),
        "breaches": breaches,
    }


def writes_lost(session: ChaosSession) -> int:
    """Acknowledged writes the ledger's read-back did not find (0 before any fault)."""
    if session.drill.fault is None:
        return 0
    judge(session)
    return int(_ledger(session).get("lost") or 0)


def _ledger(session: ChaosSession) -> dict[str, Any]:
    for companion in session.drill.companions:
        if companion.name == "ledger":
            return dict(companion.figures())
    return {}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
