"""Database faults of the plan's scenario 2: the pod dies (Option A), the data is damaged (B).

`kill_database` is the plan's pod failure: SIGKILL of the postmaster (a deleted pod on
Kubernetes); a restart recovers it and every committed write must survive.

`damage_data_file` is a storage failure: the server crashes (SIGKILL) and one of its data files
is overwritten with garbage while it is down (`global/pg_control` by default, without which
PostgreSQL refuses to start, so a restart cannot recover it: only a restore from backup can).
The rest of the data directory, its WAL included, is left as the crash left it.
On platform docker the file is in the service's named volume (scenarios.database.on_docker).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drillbook.backup.restore import LocalDatabase
from drillbook.config.model import Component
from drillbook.core.platform import Platform
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.errors import FaultFailed, InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.scenarios.database.on_docker import damage_data_file_in_volume
from drillbook.scenarios.database.on_kubernetes import damage_data_file_in_pod_volume
from drillbook.scenarios.workloads.faults import kill_replicas

CONTROL_FILE = "global/pg_control"
_DAMAGE = b"drillbook: this data file was damaged on purpose by a drill. "


@undone_by("bring the database back to its desired replicas")
def kill_database(platform: Platform, database: Component) -> Fault:
    """The plan's Option A fault: the database pod dies (SIGKILL of its server process)."""
    return kill_replicas(platform, database.name, count="all")


def damage_bytes(size: int) -> bytes:
    """What a damaged file holds: a fixed pattern (its checksum is known before injection)."""
    return (_DAMAGE * (size // len(_DAMAGE) + 1))[:size]


@undone_by(
    "put back the original data file if still damaged (kept aside, checksum-verified), "
    "then start the database"
)
def damage_data_file(
    platform: Platform,
    db: LocalDatabase,
    database: Component,
    *,
    relative_path: str = CONTROL_FILE,
) -> Fault:
    """Crash the server and overwrite one of its data files (default: the control file).

    The undo, journaled before anything happens, copies the saved original back if the file
    still holds the damage, then starts the database: after a successful restore from backup
    (which replaced the whole data directory) it only starts what is already running.
    """
    if isinstance(platform, DockerPlatform):
        # The data directory is the service's named volume: damaged through the engine.
        return damage_data_file_in_volume(
            platform, db, database, relative_path=relative_path, damage=damage_bytes
        )
    if isinstance(platform, KubernetesPlatform):
        # The data directory is postgres-0's volume: damaged by a Job while the pod is down.
        return damage_data_file_in_pod_volume(platform, database, relative_path=relative_path)
    if platform.name != "local":
        raise InvalidDrill(
            "damage_data_file writes into the database's data directory, on this machine or in "
            f"a Compose service's volume, so it needs platform 'local' or 'docker' (found "
            f"'{platform.name}')"
        )
    target = db.data_dir / relative_path
    try:
        size = target.stat().st_size
    except OSError as exc:
        raise InvalidDrill(f"cannot damage {target}: {exc}") from None
    damaged_sha256 = hashlib.sha256(damage_bytes(size)).hexdigest()
    saved = db.run_dir / "faults" / f"{target.name}.{time.strftime('%Y%m%d-%H%M%S')}.orig"

    def inject() -> Mapping[str, Any]:
        killed = platform.kill(database.name, count="all")
        # Read only now: the server rewrites its control file at every checkpoint.
        saved.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, saved)
        try:
            with open(target, "r+b") as fh:
                fh.write(damage_bytes(size))
        except OSError as exc:
            raise FaultFailed(f"could not damage {target}: {exc}") from exc
        return {
            "killed": [r.name for r in killed],
            "pids": [r.pid for r in killed],
            "damaged_file": str(Path(relative_path)),
            "bytes": size,
        }

    return Fault(
        name=f"damage-{database.name}-data-file",
        description=(
            f"crash {database.name} and damage its data file {relative_path} "
            "(a storage failure: restart cannot recover it)"
        ),
        inject=inject,
        undo=UndoAction(
            description=f"put back the original {relative_path} if still damaged; start "
            f"{database.name}",
            platform=platform.name,
            verb="restore_file",
            args={
                "component": database.name,
                "path": str(target),
                "saved": str(saved),
                "if_sha256": damaged_sha256,
            },
        ),
    )
