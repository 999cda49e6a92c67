"""The plan's recovery actions for scenario 2, Database Failure.

Option A, pod restart::

    kubectl delete pod -n eleanor-db postgres-0
    kubectl wait --for=condition=ready pod -n eleanor-db -l app=postgres --timeout=5m

Option B, restore from backup::

    ./scripts/restore_database.sh --backup=latest
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from drillbook.backup.errors import BackupError
from drillbook.backup.local import DatabaseBackups, PitrTarget
from drillbook.config.model import Component
from drillbook.core.platform import Platform
from drillbook.core.steps import RecoveryStep
from drillbook.errors import DrillFailed, RecoveryTimeout
from drillbook.scenarios.workloads.runbook import await_replacement, replaces_killed_pods

# A server killed with SIGKILL may refuse to start for a moment (its old processes still hold
# the shared memory); the StatefulSet controller retries such a pod, and so does this step.
_START_ATTEMPT_SECONDS = 10.0


def _pod(component: Component) -> str:
    workload = component.workload or f"statefulset/{component.name}"
    return f"{workload.split('/', 1)[-1]}-0"


def _namespace(component: Component) -> str:
    return f" -n {component.namespace}" if component.namespace else ""


def restart_database_pod(
    platform: Platform, database: Component, *, ready_timeout: float
) -> RecoveryStep:
    """Option A: delete the database pod and wait until its replacement is ready."""
    selector = f" -l {database.selector}" if database.selector else ""

    def run() -> Mapping[str, Any]:
        if replaces_killed_pods(platform):
            # The StatefulSet has recreated postgres-0 already: only the wait remains.
            return await_replacement(platform, database, ready_timeout=ready_timeout)
        started = time.monotonic()
        deadline = started + ready_timeout
        attempts = 0
        while True:
            attempts += 1
            platform.restart(database.name)
            remaining = deadline - time.monotonic()
            try:
                platform.wait_until_ready(
                    database.name, timeout=max(0.1, min(_START_ATTEMPT_SECONDS, remaining))
                )
                break
            except RecoveryTimeout:
                if time.monotonic() >= deadline:
                    raise
        return {"attempts": attempts, "ready_after_seconds": round(time.monotonic() - started, 4)}

    return RecoveryStep(
        name=f"restart {database.name} pod",
        command=(
            f"kubectl delete pod{_namespace(database)} {_pod(database)} && kubectl wait "
            f"--for=condition=ready pod{_namespace(database)}{selector} "
            f"--timeout={int(ready_timeout)}s"
        ),
        run=run,
    )


def restore_database_from_backup(
    backups: DatabaseBackups, *, backup: str = "latest", pitr: PitrTarget = None
) -> RecoveryStep:
    """Option B: restore the latest (or a named) backup: the dump, or PITR with `pitr`."""
    command = f"./scripts/restore_database.sh --backup={backup}"
    if pitr is not None:
        command += f" --pitr={pitr if isinstance(pitr, str) else pitr.isoformat()}"

    def run() -> Mapping[str, Any]:
        try:
            result = backups.restore(backup, pitr=pitr)
        except BackupError as exc:
            # The backup the plan relies on did not restore: that is the drill's finding.
            raise DrillFailed(f"the restore from backup failed: {exc}") from None
        return {
            "mode": result.mode,
            "backup": result.backup.get("name"),
            "backup_age_seconds": result.backup.get("age_seconds"),
            "backup_size_bytes": result.backup.get("size_bytes"),
            "backup_sha256": result.backup.get("sha256"),
            "target": result.target,
            "evidence_rows_restored": result.evidence_rows,
            "salvaged_wal_files": len(result.salvaged_wal),
            "recovery_timeline": result.timeline,
            "restore_notes": list(result.notes),
            "build_seconds": round(result.build_seconds, 3),
            "swap_seconds": round(result.swap_seconds, 3),
        }

    return RecoveryStep(name="restore database from backup", command=command, run=run)
