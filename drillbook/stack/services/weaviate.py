"""Weaviate in the embedded stack: the vector store of ELEANOR's precedents (the plan's scenario 4).

The server is built from the Go module proxy by `scripts/build-weaviate.sh` (scripts/setup.sh runs
it) into drillbook's cache, outside the repository. It runs on loopback with telemetry off and the
`backup-filesystem` module, as a single-node Raft cluster; every one of its listeners gets its own
free loopback port (REST, gRPC, gossip, cluster data, Raft, Raft RPC).

When the binary is missing the stack still starts, without a vector store: the reference service
then reports `checks.precedent_store: "not_configured"`, and the vector-store drill stops with
`VectorStoreNotProvided` naming the build script. Nothing pretends a vector store is there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from drillbook.errors import MissingDependency, StackError
from drillbook.platforms.local import LocalComponent
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

WEAVIATE_VERSION = "v1.39.0"
BINARY_ENV = "DRILLBOOK_WEAVIATE_BIN"
"""Use this weaviate-server binary instead of the one in drillbook's cache."""
BUILD_SCRIPT = "scripts/build-weaviate.sh"
COMPONENT = "vector_store"
GROUP = "weaviate"
PROCESS = "weaviate-0"
NODE_NAME = "weaviate-0"
COLLECTION = "Precedent"
BACKEND = "filesystem"
START_TIMEOUT_SECONDS = 90.0
# The named ports Weaviate needs, each on 127.0.0.1 (the REST port is the one named "weaviate").
PORT_NAMES = (
    "weaviate",
    "weaviate-grpc",
    "weaviate-gossip",
    "weaviate-data",
    "weaviate-raft",
    "weaviate-raft-rpc",
)


class VectorStoreNotProvided(MissingDependency):
    """The embedded stack runs without Weaviate (its binary is not built)."""


def cache_dir() -> Path:
    return Path(os.environ.get("DRILLBOOK_CACHE") or Path.home() / ".cache" / "drillbook")


def weaviate_binary() -> Path:
    """The weaviate-server to run, or VectorStoreNotProvided saying how to build it."""
    configured = os.environ.get(BINARY_ENV)
    candidate = (
        Path(configured)
        if configured
        else cache_dir() / f"weaviate-{WEAVIATE_VERSION}" / "bin" / "weaviate-server"
    )
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    where = f"{BINARY_ENV}={configured}" if configured else str(candidate)
    raise VectorStoreNotProvided(
        f"the embedded stack has no vector store: Weaviate {WEAVIATE_VERSION} is not built "
        f"(no executable at {where}). Build it once with `bash {BUILD_SCRIPT}` (scripts/setup.sh "
        f"does; it needs Go and the Go module proxy, 5-8 minutes cold), or point "
        f"{BINARY_ENV} at a weaviate-server binary"
    )


@dataclass(frozen=True)
class WeaviateEndpoint:
    """How drillbook reaches the stack's Weaviate: its REST URL and its backup directory."""

    url: str
    grpc_port: int
    backup_path: Path
    """BACKUP_FILESYSTEM_PATH: where the filesystem backend writes and reads backups."""
    data_path: Path
    """PERSISTENCE_DATA_PATH: the node's data directory."""


def endpoint(stack: LocalStack) -> WeaviateEndpoint:
    """The stack's Weaviate, or VectorStoreNotProvided when the stack runs without it."""
    if "weaviate" not in stack.ports:
        weaviate_binary()  # raises with the reason and the way out
        raise VectorStoreNotProvided(
            f"the embedded stack in {stack.run_dir} was started without Weaviate (its binary "
            f"was missing then); build it with `bash {BUILD_SCRIPT}` and restart the stack"
        )
    return WeaviateEndpoint(
        url=f"http://127.0.0.1:{stack.port('weaviate')}",
        grpc_port=stack.port("weaviate-grpc"),
        backup_path=stack.run_dir / "weaviate-backups",
        data_path=stack.run_dir / "weaviate-data",
    )


def weaviate_environment(ports: Mapping[str, int], run_dir: Path) -> dict[str, str]:
    """The server's environment: loopback only, no telemetry, filesystem backups, one node."""
    return {
        "DISABLE_TELEMETRY": "true",
        "ENABLE_MODULES": "backup-filesystem",
        "DEFAULT_VECTORIZER_MODULE": "none",
        "BACKUP_FILESYSTEM_PATH": str(run_dir / "weaviate-backups"),
        "PERSISTENCE_DATA_PATH": str(run_dir / "weaviate-data"),
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
        # Auto-schema would create an empty Precedent collection on the first write after a data
        # loss, and Weaviate refuses to restore over an existing collection.
        "AUTOSCHEMA_ENABLED": "false",
        "CLUSTER_HOSTNAME": NODE_NAME,
        "RAFT_BOOTSTRAP_EXPECT": "1",
        # Raft's timeouts are multiplied by 5 by default to ride out slow networks; a single
        # node on loopback has none, and x5 adds about 5 s to every start and restart.
        "RAFT_TIMEOUTS_MULTIPLIER": "1",
        # Gossip, Raft and (with the build script's patch) gRPC and the cluster data API bind
        # here; without it they listen on every interface.
        "CLUSTER_BIND_ADDR": "127.0.0.1",
        "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
        "CLUSTER_GOSSIP_BIND_PORT": str(ports["weaviate-gossip"]),
        "CLUSTER_DATA_BIND_PORT": str(ports["weaviate-data"]),
        "RAFT_PORT": str(ports["weaviate-raft"]),
        "RAFT_INTERNAL_RPC_PORT": str(ports["weaviate-raft-rpc"]),
        "GRPC_PORT": str(ports["weaviate-grpc"]),
        # The Go profiling listener would bind :6060 on every interface.
        "GO_PROFILING_DISABLE": "true",
        "PROMETHEUS_MONITORING_ENABLED": "false",
        "LOG_LEVEL": "info",
    }


class WeaviateService:
    name = "weaviate"

    def __init__(self) -> None:
        self.missing: VectorStoreNotProvided | None = None
        """Why the stack runs without Weaviate (set by `layout`), or None."""

    def layout(self, ctx: StackContext) -> list[Program]:
        try:
            binary = weaviate_binary()
        except VectorStoreNotProvided as exc:
            self.missing = exc
            ctx.app_env["PRECEDENT_BACKEND"] = "none"
            return []
        ports = {name: ctx.take_port(name) for name in PORT_NAMES}
        for directory in ("weaviate-data", "weaviate-backups"):
            (ctx.run_dir / directory).mkdir(exist_ok=True)
        ctx.app_env.update(
            {
                "PRECEDENT_BACKEND": "weaviate",
                "WEAVIATE_URL": f"http://127.0.0.1:{ports['weaviate']}",
                "WEAVIATE_GRPC_PORT": str(ports["weaviate-grpc"]),
            }
        )
        return [
            Program(
                group=GROUP,
                name=PROCESS,
                command=[
                    str(binary),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports["weaviate"]),
                    "--scheme",
                    "http",
                ],
                environment=weaviate_environment(ports, ctx.run_dir),
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        if "weaviate" not in stack.ports:
            return {}
        url = f"http://127.0.0.1:{stack.port('weaviate')}"
        return {
            COMPONENT: LocalComponent(
                name=COMPONENT,
                group=GROUP,
                processes=[PROCESS],
                desired=1,
                readiness={PROCESS: http_ready(f"{url}/v1/.well-known/ready")},
            )
        }

    independent_start = True
    """Its start needs only supervisord: it runs beside the other data services' starts."""

    def start(self, stack: LocalStack) -> None:
        if "weaviate" not in stack.ports:
            return
        platform = stack.platform()
        platform.start(COMPONENT)
        platform.wait_until_ready(COMPONENT, timeout=START_TIMEOUT_SECONDS)
        create_precedent_collection(f"http://127.0.0.1:{stack.port('weaviate')}")


PRECEDENT_SCHEMA: dict[str, object] = {
    "class": COLLECTION,
    "description": "ELEANOR precedents: past decisions retrieved by similarity",
    # Vectors come from the reference service (precedents.embed), not from a vectorizer module.
    "vectorizer": "none",
    "vectorIndexConfig": {"distance": "cosine"},
    "properties": [
        {"name": "text", "dataType": ["text"]},
        {"name": "metadata", "dataType": ["text"]},
    ],
}


def create_precedent_collection(url: str) -> bool:
    """Create the `Precedent` collection if it does not exist; True when it was created.

    The schema is the stack's job, done once at first start (as a migration would), never the
    service's: see eleanor_reference.precedents for why.
    """
    with httpx.Client(base_url=url, timeout=10.0) as client:
        existing = client.get(f"/v1/schema/{COLLECTION}")
        if existing.status_code == 200:
            return False
        created = client.post("/v1/schema", json=PRECEDENT_SCHEMA)
        if created.status_code != 200:
            raise StackError(
                f"Weaviate at {url} refused to create the {COLLECTION} collection: "
                f"HTTP {created.status_code} {created.text[:300]}"
            )
    return True
