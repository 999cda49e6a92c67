"""Actions of scenario 1 (application failure): the faults and the plan's runbook steps.

Faults: every (or some) replica killed, the Deployment scaled down. Runbook: `kubectl rollout
restart` and `kubectl scale`, each waiting until the replicas are ready (within the tier's RTO).
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.session import current
from drillbook.chaos.steps import inject, recover
from drillbook.core.platform import ReplicaCount
from drillbook.errors import InvalidDrill
from drillbook.scenarios.workloads import faults, runbook

__all__ = ["kill_replicas", "restart_workload", "scale_down", "scale_workload"]

_DEPLOYED_KEY = "replicas_before_scale_down"


@phase("inject")
def kill_replicas(component: str = "app", count: str = "all") -> dict[str, Any]:
    """SIGKILL `count` replicas of `component` ("all", or a number); the undo (bring it back
    to its desired replicas) is journaled first."""
    session = current()
    name = session.component(component).name
    return inject(session, faults.kill_replicas(session.platform, name, count=_count(count)))


@phase("inject")
def scale_down(component: str = "app", replicas: int = 0) -> dict[str, Any]:
    """Scale `component` down to `replicas` (default 0: capacity lost); the undo (scale back)
    is journaled first."""
    session = current()
    name = session.component(component).name
    session.memo[_DEPLOYED_KEY] = session.platform.status(name).desired
    return inject(session, faults.scale_down(session.platform, name, replicas=replicas))


@phase("recover")
def restart_workload(component: str = "app") -> dict[str, Any]:
    """The plan's `kubectl rollout restart`, then `kubectl rollout status`: every replica
    replaced and ready (waiting at most the component's RTO)."""
    session = current()
    target = session.component(component)
    ready = session.drill.config.objectives.rto_for(target.tier)
    return recover(session, runbook.restart_workload(session.platform, target, ready_timeout=ready))


@phase("recover")
def scale_workload(component: str = "app", replicas: int = 0) -> dict[str, Any]:
    """The plan's `kubectl scale --replicas=N`: `replicas`, or (0) as many as were deployed
    before the scale-down, then wait until they are ready."""
    session = current()
    target = session.component(component)
    wanted = replicas or int(session.memo.get(_DEPLOYED_KEY) or 0)
    if wanted < 1:
        raise InvalidDrill(
            "scale_workload: give replicas=N, or run scale_down first (its count is used)"
        )
    ready = session.drill.config.objectives.rto_for(target.tier)
    return recover(
        session, runbook.scale_workload(session.platform, target, wanted, ready_timeout=ready)
    )


def _count(count: str) -> ReplicaCount:
    if count == "all":
        return "all"
    try:
        number = int(count)
    except ValueError:
        raise InvalidDrill(f'count: found {count!r}, expected "all" or a number') from None
    if number < 1:
        raise InvalidDrill(f"count: found {number}, expected at least 1 replica")
    return number
