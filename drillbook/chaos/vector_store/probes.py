"""Probes of scenario 4 (vector database failure): the plan's verification, and the
precedents' RPO."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.session import current
from drillbook.chaos.steps import check
from drillbook.engine.reach import service_checks
from drillbook.errors import DataLossDetected
from drillbook.scenarios.vector_store import checks

__all__ = [
    "application_health",
    "embedding_storage",
    "precedent_retrieval",
    "precedent_rpo_within_objective",
    "weaviate_connectivity",
]


@phase("verify")
def weaviate_connectivity() -> bool:
    """Weaviate is live, ready and serves the Precedent collection."""
    session = current()
    return check(session, *service_checks(session.drill, checks.weaviate_connectivity))


@phase("verify")
def precedent_retrieval() -> bool:
    """Known queries find their precedents again, through the service and in Weaviate."""
    session = current()
    return check(session, *service_checks(session.drill, checks.precedent_retrieval))


@phase("verify")
def embedding_storage() -> bool:
    """A new precedent is stored with its embedding and found by it."""
    session = current()
    return check(session, *service_checks(session.drill, checks.embedding_storage))


@phase("verify")
def application_health() -> bool:
    """The service reports its precedent store healthy."""
    session = current()
    return check(session, *service_checks(session.drill, checks.application_health))


@phase("judge")
def precedent_rpo_within_objective() -> dict[str, Any]:
    """The acknowledged precedents read back after recovery, against the plan's RPO."""
    drill = current().drill
    allowed = drill.config.objectives.rpo_seconds
    if drill.fault is None:
        return {
            "figure": "precedent RPO",
            "judged": False,
            "within_objective": True,
            "objective_seconds": allowed,
            "reason": "no fault injected yet",
        }
    try:
        checks.assert_precedent_rpo(drill)
        breach = None
    except DataLossDetected as exc:
        breach = str(exc)
    assessment = checks.ledger_of(drill).assessment
    rpo = None if assessment is None else assessment.rpo_seconds
    return {
        "figure": "precedent RPO",
        "judged": True,
        "within_objective": breach is None,
        "objective_seconds": allowed,
        "rpo_seconds": rpo,
        "precedents_lost": None if assessment is None else len(assessment.lost_keys),
        "exceeded_by_seconds": None if rpo is None else round(max(0.0, rpo - allowed), 4),
        "breach": breach,
    }
