"""Faults only a container platform has: a service's named volume lost, a service cut off a
network. Each is built with its undo (a platform verb and JSON arguments, journaled before the
fault), so that `drillbook undo --config` in another process puts the target back after a
runner that died mid-drill.

    drill.inject(lose_volume(platform, "database", "pgdata"))    # undo: the copy put back
    drill.inject(partition_network(platform, "cache"))           # undo: reconnected, aliases
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from drillbook.core.platform import Platform
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform


def _docker(platform: Platform, fault: str) -> DockerPlatform:
    if not isinstance(platform, DockerPlatform):
        raise InvalidDrill(f"{fault} needs platform 'docker' (found '{platform.name}')")
    return platform


@undone_by(
    "recreate the volume from the copy taken before its removal (unless it exists again), "
    "then bring the service's containers back"
)
def lose_volume(platform: Platform, component: str, volume: str) -> Fault:
    """The service's storage lost: its containers killed and removed, its named volume removed
    (after a copy of it is written beside the undo journal, for the undo)."""
    docker = _docker(platform, "lose_volume")
    if docker.snapshot_dir is None:
        raise InvalidDrill("the docker platform has no snapshot folder (open it as a target)")
    mount = docker.volume_of(component, volume)
    described = docker.describe_volume(mount.name)
    image = docker.image_of(component)
    replicas = docker.status(component).desired
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", mount.name)
    snapshot = docker.snapshot_dir / f"{safe}-{stamp}.tar"

    def inject() -> Mapping[str, Any]:
        size = docker.remove_volume(component, volume, snapshot=snapshot, image=image)
        return {"volume": mount.name, "mounted_at": mount.destination, "copy_bytes": size}

    return Fault(
        name=f"lose-{component}-volume",
        description=f"lose {component}'s volume {mount.compose_name} ({mount.name}): containers "
        "killed and removed, the volume removed",
        inject=inject,
        undo=restore_volume_undo(
            component,
            volume=mount.name,
            described=described,
            snapshot=str(snapshot),
            image=image,
            mounted_at=mount.destination,
            replicas=replicas,
        ),
        stops=component,
    )


@undone_by("connect the service's containers to the network again, with their aliases")
def partition_network(platform: Platform, component: str, network: str = "default") -> Fault:
    """A partition: every container of the service cut off a Compose network (they keep
    running; to the rest of the project the service is unreachable)."""
    docker = _docker(platform, "partition_network")
    name = docker.network_name(component, network)
    aliases = docker.networks_of(component).get(name)
    if not aliases:
        raise InvalidDrill(f"no container of '{component}' is on network {name}")
    fixed = docker.fixed_addresses(component, name)
    if fixed:
        # The undo reconnects with the aliases only: a fixed address (which Sentinel and the
        # checks may know the service by) would come back as another one.
        raise InvalidDrill(
            f"cannot partition '{component}' from {name}: its containers have fixed addresses "
            f"there ({', '.join(f'{n} {a}' for n, a in sorted(fixed.items()))}), which the "
            "reconnection would not give back; partition a service without ipv4_address"
        )

    def inject() -> Mapping[str, Any]:
        cut = docker.disconnect_network(component, name)
        return {"network": name, "disconnected": sorted(cut)}

    return Fault(
        name=f"partition-{component}",
        description=f"cut {component} off network {name} (its containers keep running)",
        inject=inject,
        undo=reconnect_undo(component, network=name, aliases=aliases),
        stops=None,
    )


def restore_volume_undo(
    component: str,
    *,
    volume: str,
    described: Mapping[str, Any],
    snapshot: str,
    image: str,
    mounted_at: str,
    replicas: int,
) -> UndoAction:
    """The journaled undo of `lose_volume`: DockerPlatform.restore_volume's arguments."""
    return UndoAction(
        description=f"recreate volume {volume} from its copy if it is still gone; bring "
        f"{component} back to {replicas} container(s)",
        platform=DockerPlatform.name,
        verb="restore_volume",
        args={
            "component": component,
            "volume": volume,
            "described": dict(described),
            "snapshot": snapshot,
            "image": image,
            "mounted_at": mounted_at,
            "replicas": replicas,
        },
    )


def reconnect_undo(component: str, *, network: str, aliases: Mapping[str, list[str]]) -> UndoAction:
    """The journaled undo of `partition_network`: DockerPlatform.reconnect_network's."""
    return UndoAction(
        description=f"connect {component} to network {network} again",
        platform=DockerPlatform.name,
        verb="reconnect_network",
        args={"component": component, "network": network, "aliases": dict(aliases)},
    )
