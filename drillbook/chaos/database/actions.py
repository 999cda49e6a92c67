"""Actions of scenario 2 (database failure): faults, backups, and the plan's runbook steps.

Faults: the database pod killed (Option A), a data file damaged (Option B). Backups: the daily
pg_dump and a base backup with the WAL archive (point-in-time recovery). Runbook: the pod
restart, and `./scripts/restore_database.sh --backup=latest` with or without PITR.
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.database.backups import backups_of
from drillbook.chaos.session import current
from drillbook.chaos.steps import inject, recover
from drillbook.scenarios.database import faults, runbook

__all__ = [
    "damage_data_file",
    "kill_database",
    "restart_database",
    "restore_from_backup",
    "take_backups",
]


@phase("inject")
def kill_database(component: str = "database") -> dict[str, Any]:
    """Option A's fault: the database pod dies (SIGKILL of its server); undo journaled first."""
    session = current()
    return inject(session, faults.kill_database(session.platform, session.component(component)))


@phase("inject")
def damage_data_file(component: str = "database") -> dict[str, Any]:
    """Option B's fault: crash the server and overwrite its control file (a restart cannot
    help); the undo (the saved original copied back while the damage is there) journaled first."""
    session = current()
    fault = faults.damage_data_file(
        session.platform, backups_of(session).db, session.component(component)
    )
    return inject(session, fault)


@phase("prepare")
def take_backups(
    dump: bool = True, base_backup: bool = True, writes_after_seconds: float = 2.0
) -> dict[str, Any]:
    """The plan's daily pg_dump (`dump`) and a base backup for PITR (`base_backup`), then
    `writes_after_seconds` of evidence written after them (what only the WAL still holds)."""
    session = current()
    drill = session.drill
    backups = backups_of(session)
    taken = []
    with drill.phase("backup", "backup: the daily pg_dump, a base backup, writes after them"):
        if dump:
            backups.take_dump()
            taken.append("pg_dump")
        if base_backup:
            backups.take_base_backup()
            taken.append("base backup")
        drill.clock.sleep(writes_after_seconds)
    return {"taken": taken, "writes_after_seconds": writes_after_seconds}


@phase("recover")
def restart_database(component: str = "database") -> dict[str, Any]:
    """Option A: delete the database pod and wait until its replacement is ready (at most the
    component's RTO)."""
    session = current()
    target = session.component(component)
    ready = session.drill.config.objectives.rto_for(target.tier)
    step = runbook.restart_database_pod(session.platform, target, ready_timeout=ready)
    return recover(session, step)


@phase("recover")
def restore_from_backup(backup: str = "latest", pitr: str = "latest") -> dict[str, Any]:
    """Option B: `./scripts/restore_database.sh --backup=<backup>`; with `pitr` ("latest" or
    an ISO time) from the base backup and the WAL, with `pitr=""` from the daily dump only."""
    session = current()
    step = runbook.restore_database_from_backup(
        backups_of(session), backup=backup, pitr=pitr or None
    )
    return recover(session, step)
