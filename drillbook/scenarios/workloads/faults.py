"""Faults of application workloads: replicas killed (a pod failure), a workload scaled down.

Killing: on Kubernetes a killed pod is a deleted pod; on the local platform it is a SIGKILL.
Either way the undo brings the component back to its desired replicas. Every pod-based scenario
(database, cache, vector store) builds its pod failure on `kill_replicas`.

Scaling down: an operator's mistake, a runaway autoscaler. On Kubernetes a scale-down is the
`kubectl scale --replicas=N` the plan uses to recover, aimed the wrong way: the controller
removes pods that were healthy, and no pod restarts by itself. The undo, journaled with the
replica count read before the fault, scales back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.core.platform import Platform, ReplicaCount
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.errors import InvalidDrill


@undone_by("bring the component back to its desired replicas")
def kill_replicas(platform: Platform, component: str, *, count: ReplicaCount = 1) -> Fault:
    """SIGKILL `count` running replicas of `component` ("all" for every one)."""

    def inject() -> Mapping[str, Any]:
        killed = platform.kill(component, count=count)
        return {"killed": [r.name for r in killed], "pids": [r.pid for r in killed]}

    what = "every replica" if count == "all" else f"{count} replica(s)"
    return Fault(
        name=f"kill-{component}",
        description=f"kill {what} of {component} (SIGKILL)",
        inject=inject,
        undo=reconcile(platform, component),
        stops=component,
    )


def reconcile(platform: Platform, component: str, *, desired: str = "replicas") -> UndoAction:
    """The undo of a kill: the platform's `reconcile`, `component` back to its desired
    replicas (started where stopped or killed; a controller's own replacements kept)."""
    return UndoAction(
        description=f"bring {component} back to its desired {desired}",
        platform=platform.name,
        verb="reconcile",
        args={"component": component},
    )


@undone_by("scale the component back to the replicas it had before the fault")
def scale_down(platform: Platform, component: str, *, replicas: int = 0) -> Fault:
    """Scale `component` down to `replicas` (default: zero, every replica gone)."""
    before = platform.status(component).desired
    if replicas >= before:
        raise InvalidDrill(
            f"cannot scale '{component}' down to {replicas}: it wants {before} replicas now"
        )

    def inject() -> Mapping[str, Any]:
        platform.scale(component, replicas)
        return {"replicas_before": before, "replicas": replicas}

    return Fault(
        name=f"scale-down-{component}",
        description=f"scale {component} down from {before} to {replicas} replicas",
        inject=inject,
        undo=UndoAction(
            description=f"scale {component} back to {before} replicas",
            platform=platform.name,
            verb="scale",
            args={"component": component, "replicas": before},
        ),
        stops=component,
    )
