"""A Compose service's named volume removed and put back: the storage a container loses, and
the copy it is restored from.

Before a volume is removed, its content is copied out through the engine's API (a throwaway
container that mounts it and is never started; `docker cp` of its mount point) into a tarball
on this machine, written under a temporary name and renamed when complete: a volume is removed
only once its copy exists whole. The undo, journaled before the fault, recreates the volume
with its labels (so that Compose adopts it as its own) and puts the copy back, unless the volume
exists again by then (the runbook restored it from a backup: that content is kept).

Only the engine's API is used (no bind mount of a host folder): it works with an engine whose
files this process cannot read, and the copy keeps its owners and modes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drillbook.errors import FaultFailed, InvalidDrill

COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class VolumeMount:
    """A named volume as a container mounts it."""

    name: str
    """The engine's name (`eleanor_pgdata`)."""
    destination: str
    """Where the container sees it (`/var/lib/postgresql/data`)."""
    compose_name: str
    """The name in the Compose file (`pgdata`); the engine's name when not Compose's."""


def named_volumes(container: Any) -> list[VolumeMount]:
    """The named volumes a container mounts (bind mounts and anonymous tmpfs left out)."""
    container.reload()
    found = []
    for mount in container.attrs.get("Mounts") or []:
        if mount.get("Type") != "volume" or not mount.get("Name"):
            continue
        found.append(
            VolumeMount(
                name=str(mount["Name"]),
                destination=str(mount.get("Destination", "")),
                compose_name=str(mount["Name"]),
            )
        )
    return found


def find_volume(client: Any, containers: list[Any], volume: str) -> VolumeMount:
    """The volume `volume` (Compose's name or the engine's) that these containers mount."""
    mounts = {m.name: m for c in containers for m in named_volumes(c)}
    for mount in mounts.values():
        labels = client.volumes.get(mount.name).attrs.get("Labels") or {}
        compose_name = labels.get("com.docker.compose.volume", mount.name)
        if volume in (mount.name, compose_name):
            return VolumeMount(mount.name, mount.destination, compose_name)
    known = ", ".join(sorted(mounts)) or "none"
    raise InvalidDrill(
        f"no container of this service mounts a volume {volume!r} (mounted: {known})"
    )


def volume_exists(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def describe_volume(client: Any, name: str) -> dict[str, Any]:
    """What recreating the volume needs: its driver, options and labels."""
    attrs = client.volumes.get(name).attrs
    return {
        "driver": str(attrs.get("Driver") or "local"),
        "driver_opts": dict(attrs.get("Options") or {}),
        "labels": dict(attrs.get("Labels") or {}),
    }


def _throwaway(client: Any, image: str, volume: str, mounted_at: str) -> Any:
    """A container that mounts `volume` where the service does and is never started: the API
    copies through it. Mounted at the same place from the same image, a new empty volume gets
    what the engine gives it under the service (the image's folder there, its owner and mode:
    PostgreSQL refuses a data directory that is not its own, mode 0700)."""
    return client.containers.create(
        image,
        command=["true"],
        entrypoint=[],
        volumes={volume: {"bind": mounted_at, "mode": "rw"}},
        labels={"drillbook.throwaway": "volume-copy"},
        network_disabled=True,
    )


def copy_out(client: Any, image: str, volume: str, mounted_at: str, snapshot: Path) -> int:
    """The volume's content as a tarball at `snapshot` (written whole, then renamed); its size."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    partial = snapshot.with_name(snapshot.name + ".partial")
    helper = _throwaway(client, image, volume, mounted_at)
    try:
        stream, _ = helper.get_archive(f"{mounted_at.rstrip('/')}/.")
        with open(partial, "wb") as out:
            for chunk in stream:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(snapshot)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise FaultFailed(f"could not copy volume {volume} to {snapshot}: {exc}") from exc
    finally:
        helper.remove(force=True)
    return snapshot.stat().st_size


def recreate(client: Any, name: str, described: dict[str, Any]) -> None:
    """The volume created again, empty, as it was declared (Compose adopts it by its labels)."""
    client.volumes.create(
        name=name,
        driver=described.get("driver", "local"),
        driver_opts=described.get("driver_opts") or None,
        labels=described.get("labels") or None,
    )


def copy_in(client: Any, image: str, volume: str, mounted_at: str, snapshot: Path) -> None:
    """Put a tarball written by `copy_out` back into `volume` (owners and modes as in it)."""
    helper = _throwaway(client, image, volume, mounted_at)
    try:
        with open(snapshot, "rb") as tarball:
            if not helper.put_archive(mounted_at, tarball):
                raise FaultFailed(f"the engine refused to put {snapshot} into volume {volume}")
    finally:
        helper.remove(force=True)


def remove(client: Any, name: str) -> None:
    client.volumes.get(name).remove(force=True)


def discard(snapshot: Path) -> None:
    """The copy, once the volume it saved is back."""
    with contextlib.suppress(FileNotFoundError):
        snapshot.unlink()
