"""Option B's fault on a cluster (platform kubernetes): the database's control file damaged in
its data volume, through the API (drillbook.platforms.kube_database_volume).

The StatefulSet is scaled to 0 and postgres-0 deleted with no grace (its server dies as in a
crash, and no controller starts it on the file before it is damaged); a Job mounting the data
volume keeps the original aside in the backups volume and overwrites `global/pg_control` with a
known pattern; the StatefulSet is scaled back, and postgres-0 crash-loops as on a real storage
failure: only a restore recovers it. The undo (repair_database_volume) is journaled before
anything happens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from drillbook.config.model import Component
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.platforms.kube_database_volume import (
    BACKUPS_AT,
    DAMAGE_PATTERN,
    PGDATA,
    bring_up,
    database_volumes,
    run_on_volumes,
    take_down,
)
from drillbook.platforms.kubernetes import KubernetesPlatform

# The original is saved once per stamp (a retried Job never saves the damage as "original").
DAMAGE_SCRIPT = f"""set -eu
F="{PGDATA}/$RELATIVE_PATH"; saved="{BACKUPS_AT}/faults/pg_control.$STAMP.orig"
mkdir -p "{BACKUPS_AT}/faults"
[ -f "$saved" ] || cp "$F" "$saved"
size=$(stat -c %s "$F")
yes "$PATTERN" | tr -d '\\n' | head -c "$size" > "$F"
sha256sum "$F" | cut -d' ' -f1 > "$saved.damaged-sha256"
echo "damaged $RELATIVE_PATH bytes=$size"
"""


@undone_by(
    "put back the original data file if still damaged (kept in the backups volume), then scale "
    "the database's StatefulSet back to its replicas"
)
def damage_data_file_in_pod_volume(
    platform: KubernetesPlatform, database: Component, *, relative_path: str
) -> Fault:
    """Crash postgres-0 and overwrite `relative_path` in its data volume."""
    volumes = database_volumes(platform, database.name)
    refusal = volumes.refusal()
    if refusal is not None:
        from drillbook.errors import InvalidDrill

        raise InvalidDrill(f"cannot damage the database's data file: {refusal}")
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def inject() -> Mapping[str, Any]:
        take_down(platform, volumes)
        log = run_on_volumes(
            platform,
            volumes,
            DAMAGE_SCRIPT,
            purpose="damage",
            env={"STAMP": stamp, "RELATIVE_PATH": relative_path, "PATTERN": DAMAGE_PATTERN},
        )
        bring_up(platform, volumes)
        return {
            "killed": [volumes.pod],
            "damaged_file": relative_path,
            "volume": volumes.data_claim,
            "job": log.strip().splitlines()[-1] if log.strip() else "",
        }

    return Fault(
        name=f"damage-{database.name}-data-file",
        description=(
            f"crash {volumes.pod} and damage its data file {relative_path} in volume "
            f"{volumes.data_claim} (a storage failure: restart cannot recover it)"
        ),
        inject=inject,
        undo=UndoAction(
            description=f"put back the original {relative_path} in {volumes.data_claim} if "
            f"still damaged; scale statefulset/{volumes.statefulset} to {volumes.replicas}",
            platform=platform.name,
            verb="repair_database_volume",
            args={"component": database.name, "stamp": stamp},
        ),
    )
