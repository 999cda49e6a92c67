"""Process (pod) faults: kill replicas of a component.

On Kubernetes a killed pod is a deleted pod; on the local platform it is a SIGKILL. Either way
the undo brings the component back to its desired replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.engine.steps import Fault
from drillbook.engine.undo import UndoAction
from drillbook.platforms.base import Platform, ReplicaCount


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
        undo=UndoAction(
            description=f"bring {component} back to its desired replicas",
            platform=platform.name,
            verb="reconcile",
            args={"component": component},
        ),
    )
