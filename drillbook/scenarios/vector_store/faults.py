"""Vector store (Weaviate) faults: the plan's scenario 4.

- `kill_vector_store`: the Weaviate pod dies (SIGKILL); undone by bringing it back.
- `destroy_vector_data`: the node's volume is lost (data directory and the local backups on it,
  as the plan keeps them in /var/lib/weaviate/backups); the process dies with it.

"Destroyed" moves the directories out of Weaviate's reach, into a quarantine directory, instead of
deleting them: the drill must recover from the backup in S3 alone, and the undo can still give
the environment its exact data back whatever the drill's outcome. The undo is journaled as data
(`drillbook.core.undo_handlers`), so a run that dies mid-drill is undone by the next one.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drillbook.core.platform import Platform
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo_handlers import handler_undo, undo_handler
from drillbook.errors import FaultFailed
from drillbook.scenarios.workloads.faults import kill_replicas
from drillbook.scenarios.workloads.runbook import replaces_killed_pods

READY_TIMEOUT_SECONDS = 120.0
_DATA = "weaviate-data"
_BACKUPS = "weaviate-backups"


@undone_by("bring Weaviate back to its desired replicas")
def kill_vector_store(platform: Platform, component: str) -> Fault:
    """SIGKILL every Weaviate replica (the plan's weaviate-0); undone by starting it again."""
    fault = kill_replicas(platform, component, count="all")
    return Fault(
        name=f"kill-{component}",
        description=f"kill Weaviate ({component}, SIGKILL)",
        inject=fault.inject,
        undo=fault.undo,
        stops=component,
    )


@undone_by("put the quarantined data directory and local backups back, then start Weaviate")
def destroy_vector_data(
    platform: Platform,
    component: str,
    *,
    data_path: Path,
    backup_path: Path,
    quarantine: Path,
) -> Fault:
    """Kill Weaviate and take away its data directory and local backups (the volume is lost)."""

    def inject() -> Mapping[str, Any]:
        if quarantine.exists():
            raise FaultFailed(
                f"{quarantine} already exists: an earlier data fault was not undone; run the "
                "drills again (a new run replays pending undos first) or move it back by hand"
            )
        killed = platform.kill(component, count="all")
        if replaces_killed_pods(platform):
            # A restart policy has started it again at once, on the directories about to be
            # taken away (a process keeps a moved directory open): stopped, as an operator stops
            # a node whose disk is gone, until the runbook starts it on the new, empty volume.
            platform.stop(component)
        quarantine.mkdir(parents=True)
        moved = []
        for source, name in ((data_path, _DATA), (backup_path, _BACKUPS)):
            if source.exists():
                source.rename(quarantine / name)
                moved.append(str(source))
            # A fresh, empty volume: what the StatefulSet would mount for a new pod.
            source.mkdir(parents=True)
        return {"killed": [r.name for r in killed], "destroyed": moved}

    return Fault(
        name=f"destroy-{component}-data",
        description=f"destroy Weaviate's data directory and local backups ({component})",
        inject=inject,
        undo=handler_undo(
            f"put {component}'s data directory and local backups back, and start it",
            restore_vector_data,
            component=component,
            data_path=str(data_path),
            backup_path=str(backup_path),
            quarantine=str(quarantine),
        ),
    )


@undo_handler
def restore_vector_data(
    platform: Platform, *, component: str, data_path: str, backup_path: str, quarantine: str
) -> None:
    """Undo of `destroy_vector_data`: the original directories back, Weaviate running and ready.

    Idempotent: with nothing in quarantine (already undone, or the fault never got that far) it
    only makes sure Weaviate runs.
    """
    saved = Path(quarantine)
    if saved.exists():
        platform.stop(component)
        for target, name in ((Path(data_path), _DATA), (Path(backup_path), _BACKUPS)):
            original = saved / name
            if original.exists():
                shutil.rmtree(target, ignore_errors=True)
                original.rename(target)
            else:
                target.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(saved)
    platform.start(component)
    platform.wait_until_ready(component, timeout=READY_TIMEOUT_SECONDS)


def quarantine_dir(run_dir: Path) -> Path:
    """Where destroyed data waits for its undo: unique per fault, inside the stack's run dir."""
    return run_dir / f"weaviate-lost-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}"
