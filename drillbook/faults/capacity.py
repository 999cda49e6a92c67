"""Capacity faults: a workload scaled down (an operator's mistake, a runaway autoscaler).

On Kubernetes a scale-down is the `kubectl scale --replicas=N` the plan uses to recover,
aimed the wrong way: the controller removes pods that were healthy, and no pod restarts by
itself. The undo, journaled with the replica count read before the fault, scales back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.engine.steps import Fault
from drillbook.engine.undo import UndoAction
from drillbook.errors import InvalidDrill
from drillbook.platforms.base import Platform


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
    )
