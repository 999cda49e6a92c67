"""Which of a Compose PostgreSQL service's named volumes holds what: its data directory, and its
WAL archive (point-in-time recovery).

The data volume is the one mounted at the container's PGDATA (the PostgreSQL images' variable),
or the only one there is; the archive is the one mounted at WAL_ARCHIVE (the reference image's
variable, default /var/lib/postgresql/wal-archive), absent on a service that archives no WAL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drillbook.errors import InvalidDrill
from drillbook.platforms.docker_volumes import VolumeMount, named_volumes

DATA_DIR_VARIABLE = "PGDATA"
ARCHIVE_VARIABLE = "WAL_ARCHIVE"
DEFAULT_ARCHIVE = "/var/lib/postgresql/wal-archive"
"""Where the reference image (deploy/compose/images/postgres) archives WAL unless told."""


@dataclass(frozen=True)
class PostgresVolumes:
    data: VolumeMount
    archive: VolumeMount | None
    """None: no volume at the archive's place (the server archives no WAL a restore can read)."""


def container_env(container: Any) -> dict[str, str]:
    """A container's environment (its image's and its own), by name."""
    env: dict[str, str] = {}
    for entry in container.attrs.get("Config", {}).get("Env") or []:
        name, _, value = str(entry).partition("=")
        env[name] = value
    return env


def pick_volumes(
    component: str, mounts: Sequence[VolumeMount], env: Mapping[str, str]
) -> PostgresVolumes:
    """The data and archive volumes among a service's named volumes (see the module's note)."""
    unique = {(m.name, m.destination): m for m in mounts}
    found = list(unique.values())
    archive_at = env.get(ARCHIVE_VARIABLE) or DEFAULT_ARCHIVE
    archive = next((m for m in found if m.destination.rstrip("/") == archive_at), None)
    others = [m for m in found if m is not archive]
    data_at = env.get(DATA_DIR_VARIABLE, "").rstrip("/")
    data = next((m for m in others if data_at and m.destination.rstrip("/") == data_at), None)
    if data is None and len(others) == 1:
        data = others[0]
    if data is None:
        listed = sorted((m.name, m.destination) for m in found)
        raise InvalidDrill(
            f"'{component}' mounts {len(found)} named volumes ({listed}) and none at its "
            f"{DATA_DIR_VARIABLE} ({data_at or 'not set'}): a database drill or restore needs "
            "the one that holds its data directory"
        )
    return PostgresVolumes(data, archive)


def postgres_volumes(component: str, containers: Sequence[Any]) -> PostgresVolumes:
    """The data and archive volumes the service's containers mount."""
    if not containers:
        raise InvalidDrill(f"the Compose service of '{component}' has no container")
    mounts = [m for c in containers for m in named_volumes(c)]
    return pick_volumes(component, mounts, container_env(containers[0]))
