"""Where the precedent ledger reaches Weaviate on platform docker.

The vector-store component's container says it all: its REST port as published on this machine
(the port binding it was created with, so a stopped container still answers), and its data and
backup directories (PERSISTENCE_DATA_PATH, BACKUP_FILESYSTEM_PATH in its environment) as the
named volumes mounted there, at the host paths the engine's local driver keeps them in. Those
paths are read and written by this process, as the embedded stack's are: the runner must run
on the engine's machine with the right to read the engine's volumes (root, as here).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.stack.services.weaviate import WeaviateEndpoint

if TYPE_CHECKING:
    from drillbook.target import Target

REST_PORT = "8080/tcp"
GRPC_PORT = "50051/tcp"
DEFAULT_DATA_PATH = "/var/lib/weaviate"
DEFAULT_BACKUP_PATH = "/var/lib/weaviate-backups"
ROLE = "vector_store"


def docker_weaviate_endpoint(target: Target) -> WeaviateEndpoint | None:
    """The endpoint of the vector-store component's container; None when the target is not on
    Docker or has no vector-store component (the drills' fixture says why)."""
    platform = target.platform
    if not isinstance(platform, DockerPlatform):
        return None
    names = [n for n, c in target.config.target.components.items() if c.role == ROLE]
    containers = platform.containers(names[0]) if names else []
    if not containers:
        return None
    container = containers[0]
    container.reload()
    attrs: dict[str, Any] = container.attrs
    env = dict(
        item.split("=", 1) for item in (attrs.get("Config") or {}).get("Env") or [] if "=" in item
    )
    bindings = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    rest = _published(bindings, REST_PORT)
    if rest is None:
        raise InvalidDrill(
            f"Weaviate's REST port ({REST_PORT}) of container {container.name} is not published "
            "on this machine: the vector-store drills ask Weaviate itself which precedents it "
            'holds; publish it (ports: ["127.0.0.1:17081:8080"]) and run again'
        )
    mounts = {str(m.get("Destination")): m for m in attrs.get("Mounts") or []}
    grpc = _published(bindings, GRPC_PORT)
    return WeaviateEndpoint(
        url=f"http://{rest[0]}:{rest[1]}",
        grpc_port=grpc[1] if grpc is not None else 0,
        backup_path=_volume_path(
            container.name, mounts, env.get("BACKUP_FILESYSTEM_PATH", DEFAULT_BACKUP_PATH)
        ),
        data_path=_volume_path(
            container.name, mounts, env.get("PERSISTENCE_DATA_PATH", DEFAULT_DATA_PATH)
        ),
    )


def _published(bindings: dict[str, Any], port: str) -> tuple[str, int] | None:
    for binding in bindings.get(port) or []:
        if binding.get("HostPort"):
            host = str(binding.get("HostIp") or "127.0.0.1")
            # Bound on every interface: reached on loopback like the rest.
            host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            return host, int(binding["HostPort"])
    return None


def _volume_path(container: str, mounts: dict[str, Any], destination: str) -> Path:
    mount = mounts.get(destination)
    if mount is None or not mount.get("Source"):
        raise InvalidDrill(
            f"container {container} mounts no volume at {destination}: the vector-store drills "
            "need Weaviate's data and backups on volumes (see deploy/compose/docker-compose.yaml)"
        )
    return Path(str(mount["Source"]))
