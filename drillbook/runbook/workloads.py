"""Recovery steps on workloads, as the plan's runbook names them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.config.model import Component
from drillbook.engine.steps import RecoveryStep
from drillbook.platforms.base import Platform


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
