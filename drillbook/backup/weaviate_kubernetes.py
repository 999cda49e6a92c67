"""Where Weaviate is on a kind cluster, for its backups and the vector-store drills.

The vector-store component's StatefulSet says it all, as the container does on Docker
(drillbook.scenarios.vector_store.on_docker):
- its REST port, through the NodePort Service that selects its pods (k8s/kind-weaviate.yaml): at
  the address the Service's `drillbook.io/published-url` annotation names (kind publishes the
  NodePort on 127.0.0.1), else at the node's own address;
- its data and backup directories (PERSISTENCE_DATA_PATH, BACKUP_FILESYSTEM_PATH in its pod
  template) on the PersistentVolumes of the claims mounted there, which the local-path
  provisioner keeps as directories on the node; a kind node is a Docker container, so those are
  directories of its volume on this machine. The data fault and the restore read and write them
  there, as on Docker: the runner must run on the engine's machine with the right to read the
  engine's volumes (root, as here). A cluster whose nodes are not containers of this machine's
  engine gets an InvalidDrill that says so.

Backups go to a directory on the runner's machine (DirectoryBackupStore), outside the cluster:
the kind cluster's only S3 is a secrets provider its drills take down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from kubernetes import client

from drillbook.backup.weaviate import VectorStoreBackups
from drillbook.backup.weaviate_directory_store import DirectoryBackupStore
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.stack.services.weaviate import WeaviateEndpoint

ROLE = "vector_store"
DEFAULT_DATA_PATH = "/var/lib/weaviate"
DEFAULT_BACKUP_PATH = "/var/lib/weaviate/backups"
PUBLISHED_URL = "drillbook.io/published-url"
PUBLISHED_GRPC_PORT = "drillbook.io/published-grpc-port"
REST_PORT_NAME = "http"
GRPC_PORT_NAME = "grpc"
OFFSITE = Path(".drillbook") / "weaviate-offsite"
"""The off-site copy of every backup (the plan's S3), relative to where drillbook runs."""
EXPORTS = Path(".drillbook") / "weaviate-exports"
"""Where a backup is exported from Weaviate's volume first (the plan's `kubectl cp`)."""


def kubernetes_vector_backups(endpoint: WeaviateEndpoint) -> VectorStoreBackups:
    """The plan's Weaviate backups on a cluster: exported here, kept off the cluster."""
    return VectorStoreBackups(
        endpoint, DirectoryBackupStore(OFFSITE.resolve()), export_root=EXPORTS.resolve()
    )


def kubernetes_weaviate_endpoint(platform: KubernetesPlatform, component: str) -> WeaviateEndpoint:
    """Weaviate's route from this machine and its directories here, read from the cluster."""
    statefulset = platform.read_workload(component)
    if (
        statefulset.kind not in (None, "StatefulSet")
        or statefulset.spec.volume_claim_templates is None
    ):
        raise InvalidDrill(
            f"component '{component}' is not a StatefulSet with volume claims: the vector-store "
            "drills need Weaviate's data on a PersistentVolume (k8s/base/weaviate.yaml)"
        )
    container = statefulset.spec.template.spec.containers[0]
    env = {e.name: e.value for e in container.env or [] if e.value is not None}
    url, grpc_port = _route(platform, component)
    volumes = _Volumes(platform, statefulset, container)
    return WeaviateEndpoint(
        url=url,
        grpc_port=grpc_port,
        data_path=volumes.host_path(env.get("PERSISTENCE_DATA_PATH", DEFAULT_DATA_PATH)),
        backup_path=volumes.host_path(env.get("BACKUP_FILESYSTEM_PATH", DEFAULT_BACKUP_PATH)),
    )


def _api(what: str, call: Any, platform: KubernetesPlatform) -> Any:
    try:
        return call(_request_timeout=platform.connection.request_timeout)
    except client.ApiException as exc:
        raise InvalidDrill(
            f"could not read {what} for the vector-store drills: HTTP {exc.status} {exc.reason}"
        ) from None


def _route(platform: KubernetesPlatform, component: str) -> tuple[str, int]:
    """(REST URL, gRPC port) through the NodePort Service that selects the component's pods."""
    comp = platform.component(component)
    labels = selector_labels(comp.selector)
    services = _api(
        f"the Services of namespace {comp.namespace}",
        lambda **kw: platform.core.list_namespaced_service(comp.namespace, **kw),
        platform,
    )
    for service in services.items:
        selector = service.spec.selector or {}
        if service.spec.type != "NodePort" or not selector or not _selects(selector, labels):
            continue
        ports = {p.name: p.node_port for p in service.spec.ports or [] if p.node_port}
        if REST_PORT_NAME not in ports:
            continue
        annotations = service.metadata.annotations or {}
        if PUBLISHED_URL in annotations:
            url = str(annotations[PUBLISHED_URL]).rstrip("/")
            grpc = int(annotations.get(PUBLISHED_GRPC_PORT) or 0)
            return url, grpc
        node = _node_address(platform)
        return f"http://{node}:{ports[REST_PORT_NAME]}", int(ports.get(GRPC_PORT_NAME) or 0)
    raise InvalidDrill(
        f"no NodePort Service in namespace {comp.namespace} selects {comp.selector} with a port "
        f"named {REST_PORT_NAME!r}: the vector-store drills ask Weaviate itself which precedents "
        "it holds; apply k8s/kind-weaviate.yaml (scripts/kind-up.sh does) and run again"
    )


def selector_labels(selector: str) -> dict[str, str]:
    """`app=weaviate,tier=x` as labels (equality terms only; others are not a pod's labels)."""
    labels = {}
    for term in selector.split(","):
        key, sep, value = term.partition("=")
        if sep and not key.endswith("!"):
            labels[key.strip()] = value.lstrip("=").strip()
    return labels


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _node_address(platform: KubernetesPlatform) -> str:
    nodes = _api("the nodes", lambda **kw: platform.core.list_node(**kw), platform)
    for node in nodes.items:
        for address in node.status.addresses or []:
            if address.type == "InternalIP":
                return str(address.address)
    raise InvalidDrill("no node of the cluster has an InternalIP to reach a NodePort at")


class _Volumes:
    """Where a path inside the component's pod is on this machine, through its volumes."""

    def __init__(self, platform: KubernetesPlatform, statefulset: Any, container: Any) -> None:
        self.platform = platform
        self.statefulset = statefulset
        self.container = container
        self.namespace = str(statefulset.metadata.namespace)
        self.claim_templates = {t.metadata.name for t in statefulset.spec.volume_claim_templates}
        self.claims = {
            v.name: v.persistent_volume_claim.claim_name
            for v in statefulset.spec.template.spec.volumes or []
            if v.persistent_volume_claim is not None
        }

    def host_path(self, pod_path: str) -> Path:
        mounts = [(m.mount_path, m) for m in self.container.volume_mounts or []]
        found = mount_containing(pod_path, [path for path, _ in mounts])
        if found is None:
            raise InvalidDrill(
                f"{pod_path} is on no volume of {self.statefulset.metadata.name}: the "
                "vector-store drills need Weaviate's data and backups on PersistentVolumes"
            )
        mount = dict(mounts)[found]
        relative = PurePosixPath(mount.sub_path or "") / PurePosixPath(pod_path).relative_to(found)
        node, node_path = self._node_path(self._claim(mount.name))
        return node_host_path(node, PurePosixPath(node_path) / relative)

    def _claim(self, volume: str) -> str:
        if volume in self.claim_templates:
            # The plan's single Weaviate, weaviate-0: ordinal 0 of the StatefulSet.
            return f"{volume}-{self.statefulset.metadata.name}-0"
        if volume in self.claims:
            return str(self.claims[volume])
        raise InvalidDrill(
            f"volume {volume!r} of {self.statefulset.metadata.name} is not a PersistentVolumeClaim"
        )

    def _node_path(self, claim: str) -> tuple[str, str]:
        """(node name, directory on the node) of the volume bound to `claim`."""
        pvc = _api(
            f"PersistentVolumeClaim {self.namespace}/{claim}",
            lambda **kw: self.platform.core.read_namespaced_persistent_volume_claim(
                claim, self.namespace, **kw
            ),
            self.platform,
        )
        if not pvc.spec.volume_name:
            raise InvalidDrill(f"PersistentVolumeClaim {self.namespace}/{claim} is not bound")
        pv = _api(
            f"PersistentVolume {pvc.spec.volume_name}",
            lambda **kw: self.platform.core.read_persistent_volume(pvc.spec.volume_name, **kw),
            self.platform,
        )
        source = pv.spec.host_path or pv.spec.local
        nodes = _affinity_nodes(pv.spec.node_affinity)
        if source is None or len(nodes) != 1:
            raise InvalidDrill(
                f"PersistentVolume {pv.metadata.name} is not a directory on one node (hostPath "
                "or local, as kind's local-path provisioner makes them): the vector-store drills "
                "cannot reach Weaviate's files on it"
            )
        return nodes[0], str(source.path)


def _affinity_nodes(affinity: Any) -> list[str]:
    required = getattr(affinity, "required", None)
    names: list[str] = []
    for term in getattr(required, "node_selector_terms", None) or []:
        for expression in term.match_expressions or []:
            if expression.key == "kubernetes.io/hostname" and expression.operator == "In":
                names.extend(expression.values or [])
    return names


def mount_containing(path: str, mount_paths: Sequence[str]) -> str | None:
    """The innermost of `mount_paths` that holds `path` (itself or below), else None."""
    target = PurePosixPath(path)
    holding = [
        m for m in mount_paths if target == PurePosixPath(m) or PurePosixPath(m) in target.parents
    ]
    return max(holding, key=lambda m: len(PurePosixPath(m).parts), default=None)


def host_path_in_mounts(mounts: Sequence[Mapping[str, Any]], path: PurePosixPath) -> Path | None:
    """Where `path` inside a container is on the engine's machine, through the container's
    volume and bind mounts (Docker's `Mounts`: Destination, Source); None when it is on none."""
    by_destination = {str(m.get("Destination")): m for m in mounts if m.get("Source")}
    found = mount_containing(str(path), list(by_destination))
    if found is None:
        return None
    return Path(str(by_destination[found]["Source"])) / path.relative_to(found)


def node_host_path(node: str, path: PurePosixPath) -> Path:
    """Where a directory of kind node `node` is on this machine (the node is a container)."""
    import docker
    from docker.errors import DockerException, NotFound

    try:
        engine = docker.from_env()
        attrs: dict[str, Any] = engine.containers.get(node).attrs
    except NotFound:
        raise InvalidDrill(
            f"node {node} is not a container of this machine's Docker engine: the vector-store "
            "data drill reaches Weaviate's volume through the node's files (kind, on this machine)"
        ) from None
    except DockerException as exc:
        raise InvalidDrill(
            f"cannot ask the Docker engine about node {node} ({exc}): the vector-store data drill "
            "reaches Weaviate's volume through the node's files (kind, on this machine)"
        ) from None
    host = host_path_in_mounts(attrs.get("Mounts") or [], path)
    if host is None:
        raise InvalidDrill(
            f"{path} on node {node} is on none of the node container's volumes (kind mounts one "
            "at /var, where the local-path provisioner keeps its directories)"
        )
    return host
