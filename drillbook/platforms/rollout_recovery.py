"""How a workload came back whole after a fault that killed no pod, from the API server's clock.

A deleted Secret or a scale-down to zero kills no pod a drill could pair with a replacement
(drillbook.platforms.pod_replacement). What recovers instead is the workload: the runbook rolls
it (`kubectl set env`, `rollout restart`, `kubectl scale`) and it is whole again when as many
pods as it wants, all started since the fault, are Ready. The span is taken from server-side
timestamps only: the fault's time on the server's clock (its Date header, taken just before the
fault) to the last of those pods' Ready condition (lastTransitionTime).

Pure over pod snapshots, so every rule is unit-tested without a cluster. Both ends are whole
seconds, so the span has an error bar of 1 s; a pod created in the fault's own second counts as
started since the fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drillbook.platforms.pod_replacement import TIMESTAMP_RESOLUTION_SECONDS, PodSnapshot


@dataclass(frozen=True)
class RolloutRecovery:
    """How one component's workload came back after the fault (times are Unix seconds)."""

    component: str
    fault_at: float
    """The fault on the server's clock."""
    desired: int
    """Pods the workload wants now (spec.replicas)."""
    started_since: tuple[str, ...]
    """Pods started since the fault that are still there (not terminating)."""
    ready_since: tuple[str, ...]
    """Of those, the Ready ones."""
    ready_seconds: float | None
    """Fault to the last of `desired` such pods turning Ready; None while not whole."""

    @property
    def recovered(self) -> bool:
        return self.ready_seconds is not None


def rollout_recovery(
    component: str, pods: Iterable[PodSnapshot], *, fault_at: float, desired: int
) -> RolloutRecovery:
    """Whether the component is whole again on pods started since `fault_at`, and since when.

    Whole means at least `desired` (and at least one) Ready, non-terminating pods created at or
    after the fault's second; the time is when the `desired`-th of them turned Ready (a pod
    beyond those wanted, in a rollout's overlap, does not delay it).
    """
    fresh = sorted(
        (p for p in pods if not p.deleting and p.created_at >= fault_at),
        key=lambda p: (p.created_at, p.name),
    )
    ready = [p for p in fresh if p.ready and p.ready_since is not None]
    seconds: float | None = None
    if desired >= 1 and len(ready) >= desired:
        times = sorted(p.ready_since for p in ready if p.ready_since is not None)[:desired]
        seconds = max(0.0, times[-1] - fault_at)
    return RolloutRecovery(
        component=component,
        fault_at=fault_at,
        desired=desired,
        started_since=tuple(p.name for p in fresh),
        ready_since=tuple(p.name for p in ready),
        ready_seconds=seconds,
    )


def summarize_rollout(recovery: RolloutRecovery) -> Mapping[str, object]:
    """Figures for a report."""
    return {
        "component": recovery.component,
        "desired": recovery.desired,
        "pods_started_since_fault": list(recovery.started_since),
        "pods_ready_since_fault": list(recovery.ready_since),
        "ready_seconds": recovery.ready_seconds,
        "recovered": recovery.recovered,
        "timestamp_resolution_seconds": TIMESTAMP_RESOLUTION_SECONDS,
    }
