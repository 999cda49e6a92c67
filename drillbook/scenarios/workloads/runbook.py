"""Recovery steps on workloads, as the plan's runbook names them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.config.model import Component
from drillbook.core.platform import Platform
from drillbook.core.steps import RecoveryStep


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


def replace_pod(
    platform: Platform, component: Component, *, ready_timeout: float
) -> dict[str, Any]:
    """The plan's `kubectl delete pod X && kubectl wait --for=condition=ready` on a workload of
    one pod (a StatefulSet's): where the controller has replaced a killed pod already, only the
    wait; elsewhere the pod replaced, then awaited."""
    if replaces_killed_pods(platform):
        return await_replacement(platform, component, ready_timeout=ready_timeout)
    return _restart_and_wait(platform, component, ready_timeout=ready_timeout)


def _restart_and_wait(
    platform: Platform, component: Component, *, ready_timeout: float
) -> dict[str, Any]:
    platform.restart(component.name)
    waited = platform.wait_until_ready(component.name, timeout=ready_timeout)
    return {"ready_after_seconds": round(waited, 4)}


def _workload(component: Component) -> str:
    return component.workload or f"deployment/{component.name}"


def _namespace(component: Component) -> str:
    return f" -n {component.namespace}" if component.namespace else ""


def restart_workload(
    platform: Platform, component: Component, *, ready_timeout: float
) -> RecoveryStep:
    """`kubectl rollout restart` then `kubectl rollout status`: every replica replaced and ready."""

    def run() -> Mapping[str, Any]:
        return _restart_and_wait(platform, component, ready_timeout=ready_timeout)

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
