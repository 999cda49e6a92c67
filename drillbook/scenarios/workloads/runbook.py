"""Recovery steps on workloads, as the plan's runbook names them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.config.model import Component
from drillbook.engine.steps import RecoveryStep
from drillbook.platforms.base import Platform


def replaces_killed_pods(platform: Platform) -> bool:
    """Whether the platform's controllers replace a killed replica by themselves (Kubernetes:
    the ReplicaSet or StatefulSet recreates a deleted pod at once). There, the plan's `kubectl
    delete pod X` after a pod failure has been done by the fault, and doing it again would kill
    the replacement: a second outage the plan does not intend. Only its `kubectl wait` remains."""
    return bool(getattr(platform, "replaces_killed_pods", False))


def await_replacement(
    platform: Platform, component: Component, *, ready_timeout: float
) -> dict[str, Any]:
    """The plan's `kubectl wait --for=condition=ready` on a controller's replacement."""
    waited = platform.wait_until_ready(component.name, timeout=ready_timeout)
    return {"replaced_by": "its controller", "ready_after_seconds": round(waited, 4)}


def _workload(component: Component) -> str:
    return component.workload or f"deployment/{component.name}"


def _namespace(component: Component) -> str:
    return f" -n {component.namespace}" if component.namespace else ""


def restart_workload(
    platform: Platform, component: Component, *, ready_timeout: float
) -> RecoveryStep:
    """`kubectl rollout restart` then `kubectl rollout status`: every replica replaced and ready."""

    def run() -> Mapping[str, Any]:
        platform.restart(component.name)
        waited = platform.wait_until_ready(component.name, timeout=ready_timeout)
        return {"ready_after_seconds": round(waited, 4)}

    return RecoveryStep(
        name=f"rollout restart {component.name}",
        command=f"kubectl rollout restart {_workload(component)}{_namespace(component)}",
        run=run,
    )


def scale_workload(
    platform: Platform, component: Component, replicas: int, *, ready_timeout: float
) -> RecoveryStep:
    """`kubectl scale --replicas=N` then wait until the new replicas are ready."""

    def run() -> Mapping[str, Any]:
        platform.scale(component.name, replicas)
        waited = platform.wait_until_ready(component.name, timeout=ready_timeout)
        return {"replicas": replicas, "ready_after_seconds": round(waited, 4)}

    return RecoveryStep(
        name=f"scale {component.name} to {replicas}",
        command=(
            f"kubectl scale {_workload(component)} --replicas={replicas}{_namespace(component)}"
        ),
        run=run,
    )
