"""Actions of scenario 4 (vector database failure): faults, the backup, the runbook steps.

Option A: Weaviate killed, recovered by the pod restart. Option B: its volume lost (data and
local backups moved aside), recovered by `./scripts/restore_weaviate.sh --backup=latest`.
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.session import current
from drillbook.chaos.steps import inject, recover
from drillbook.scenarios.vector_store import faults, runbook
from drillbook.scenarios.vector_store.checks import ledger_of

__all__ = [
    "destroy_vector_data",
    "kill_vector_store",
    "restart_vector_store",
    "restore_vector_store",
    "take_vector_store_backup",
]


@phase("inject")
def kill_vector_store(component: str = "vector_store") -> dict[str, Any]:
    """Option A's fault: Weaviate killed (SIGKILL); undo journaled first."""
    session = current()
    name = session.component(component).name
    return inject(session, faults.kill_vector_store(session.platform, name))


@phase("inject")
def destroy_vector_data(component: str = "vector_store") -> dict[str, Any]:
    """Option B's fault: Weaviate killed and its data directory and local backups taken away
    (the volume is lost); the undo (put them back) journaled first."""
    session = current()
    weaviate = ledger_of(session.drill).backups.endpoint
    fault = faults.destroy_vector_data(
        session.platform,
        session.component(component).name,
        data_path=weaviate.data_path,
        backup_path=weaviate.backup_path,
        quarantine=faults.quarantine_dir(weaviate.data_path.parent),
    )
    return inject(session, fault)


@phase("prepare")
def take_vector_store_backup(writes_after: int = 4) -> dict[str, Any]:
    """`scripts/backup_weaviate.sh` (backup API, export, S3), then wait for `writes_after`
    precedents acknowledged after it (what the restore cannot bring back)."""
    drill = current().drill
    precedents = ledger_of(drill)
    with drill.phase("backup", "backup: scripts/backup_weaviate.sh (backup API, export, S3)"):
        precedents.backups.create()
        precedents.wait_for_acks_after(drill.clock.monotonic(), count=writes_after)
    return {"writes_after": writes_after}


@phase("recover")
def restart_vector_store(component: str = "vector_store") -> dict[str, Any]:
    """Option A: delete the Weaviate pod and wait until it is ready."""
    session = current()
    step = runbook.restart_vector_store(session.platform, session.component(component))
    return recover(session, step)


@phase("recover")
def restore_vector_store(
    component: str = "vector_store", backup_id: str = "latest"
) -> dict[str, Any]:
    """Option B: Weaviate running again (empty), then the backup restored through its API."""
    session = current()
    step = runbook.restore_vector_store(
        session.platform,
        session.component(component),
        ledger_of(session.drill).backups,
        backup_id=backup_id,
    )
    return recover(session, step)
