"""Option B's fault on a Compose project (platform docker): the database's data file damaged in
its named volume, through the engine's API (drillbook.platforms.docker_files).

As on the embedded stack, the server crashes (SIGKILL, here through the engine, so that the
service's restart policy does not start it on the damaged file before the runbook acts) and
`global/pg_control` is overwritten with a known pattern while it is down. The undo is journaled
before anything happens, naming the volume, where the service mounts it and its image (so a
later run puts it back even with no container left), and the saved original.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from drillbook.backup.compose_volumes import postgres_volumes
from drillbook.backup.restore import LocalDatabase
from drillbook.config.model import Component
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_files import content_of


def data_volume(platform: DockerPlatform, database: Component) -> tuple[str, str]:
    """The named volume that holds the database's data directory (not its WAL archive): its
    engine name, where mounted."""
    data = postgres_volumes(database.name, platform.containers(database.name)).data
    return data.name, data.destination


@undone_by(
    "put back the original data file in the volume if still damaged (kept aside), then start "
    "the database's containers"
)
def damage_data_file_in_volume(
    platform: DockerPlatform,
    db: LocalDatabase,
    database: Component,
    *,
    relative_path: str,
    damage: Callable[[int], bytes],
) -> Fault:
    """Crash the database's containers and overwrite `relative_path` in its volume with
    `damage(size)` (as long as the file: its checksum is known before injection)."""
    volume, mounted_at = data_volume(platform, database)
    image = platform.image_of(database.name)
    archive = platform.read_volume_file(database.name, volume, relative_path)
    if archive is None:
        raise InvalidDrill(f"cannot damage {relative_path}: volume {volume} has no such file")
    size = len(content_of(archive))
    data = damage(size)
    damaged_sha256 = hashlib.sha256(data).hexdigest()
    name = relative_path.replace("/", "_")
    saved = db.run_dir / "faults" / f"{name}.{time.strftime('%Y%m%d-%H%M%S')}.orig.tar"

    def inject() -> Mapping[str, Any]:
        # Read again only once the server is down: it rewrites its control file at every
        # checkpoint.
        killed = platform.damage_volume_file(database.name, volume, relative_path, data, saved)
        return {
            "killed": [r.name for r in killed],
            "damaged_file": relative_path,
            "volume": volume,
            "bytes": size,
        }

    return Fault(
        name=f"damage-{database.name}-data-file",
        description=(
            f"crash {database.name} and damage its data file {relative_path} in volume "
            f"{volume} (a storage failure: restart cannot recover it)"
        ),
        inject=inject,
        undo=UndoAction(
            description=f"put back the original {relative_path} in volume {volume} if still "
            f"damaged; start {database.name}",
            platform=platform.name,
            verb="restore_volume_file",
            args={
                "component": database.name,
                "volume": volume,
                "mounted_at": mounted_at,
                "image": image,
                "relative_path": relative_path,
                "saved": str(saved),
                "if_sha256": damaged_sha256,
            },
        ),
    )
