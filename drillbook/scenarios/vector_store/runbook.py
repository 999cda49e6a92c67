"""Recovery steps of the plan's scenario 4 (Vector Database Failure), with its own commands.

Option A, pod restart:
    kubectl delete pod -n eleanor-vector weaviate-0
    kubectl wait --for=condition=ready pod -n eleanor-vector -l app=weaviate --timeout=5m
Option B, restore from backup:
    ./scripts/restore_weaviate.sh --backup=latest
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.backup.weaviate import VectorStoreBackups
from drillbook.config.model import Component
from drillbook.core.platform import Platform
from drillbook.core.steps import RecoveryStep
from drillbook.scenarios.workloads.runbook import replace_pod

POD_READY_TIMEOUT_SECONDS = 300.0
"""The plan's `kubectl wait ... --timeout=5m`."""


def _namespace(component: Component) -> str:
    return component.namespace or "eleanor-vector"


def _selector(component: Component) -> str:
    return component.selector or "app=weaviate"


def restart_vector_store(
    platform: Platform, component: Component, *, ready_timeout: float = POD_READY_TIMEOUT_SECONDS
) -> RecoveryStep:
    """Option A: replace the Weaviate pod and wait until it is ready."""

    def run() -> Mapping[str, Any]:
        # Where the StatefulSet has recreated weaviate-0 already, only the wait remains.
        return replace_pod(platform, component, ready_timeout=ready_timeout)

    namespace = _namespace(component)
    return RecoveryStep(
        name=f"restart {component.name}",
        command=(
            f"kubectl delete pod -n {namespace} weaviate-0 && kubectl wait "
            f"--for=condition=ready pod -n {namespace} -l {_selector(component)} --timeout=5m"
        ),
        run=run,
    )


def restore_vector_store(
    platform: Platform,
    component: Component,
    backups: VectorStoreBackups,
    *,
    backup_id: str = "latest",
    ready_timeout: float = POD_READY_TIMEOUT_SECONDS,
) -> RecoveryStep:
    """Option B: a running (empty) Weaviate, then the latest backup restored through its API."""

    def run() -> Mapping[str, Any]:
        # The pod comes back on its new, empty volume first: a restore needs a live Weaviate.
        platform.start(component.name)
        waited = platform.wait_until_ready(component.name, timeout=ready_timeout)
        restored = backups.restore(backup_id)
        return {
            "ready_after_seconds": round(waited, 4),
            "backup_id": restored.backup.backup_id,
            "backup_age_seconds": round(restored.age_seconds, 3),
            "backup_size_bytes": restored.backup.size_bytes,
            "downloaded_from_s3": restored.downloaded,
            "restore_seconds": round(restored.seconds, 3),
        }

    return RecoveryStep(
        name=f"restore {component.name} from backup {backup_id}",
        command=f"./scripts/restore_weaviate.sh --backup={backup_id}",
        run=run,
    )
