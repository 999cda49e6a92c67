"""A real Kubernetes control plane on loopback, for drillbook's Kubernetes tests.

Per cluster: etcd, kube-apiserver (RBAC authorization, client-certificate and service-account
token authentication), kube-controller-manager, kube-scheduler, and the KWOK controller, which
plays the kubelets: it keeps simulated nodes alive and moves scheduled pods to Running and Ready
(tests/k8s/kwok-stages.yaml). Every object goes through the real API server, the real
controllers (ReplicaSet, StatefulSet, Deployment rollouts, garbage collection) and the real
scheduler; only containers do not exist, so pods serve no traffic.

The binaries come from scripts/build-k8s.sh (cached outside the repository, keyed by version).
Each process is started by PID, logs into the cluster's run directory, dies with its parent
(PR_SET_PDEATHSIG) if pytest is killed outright, and is stopped by PID at teardown.

By hand: `.venv/bin/python -m tests.k8s.control_plane [primary] [dr-cluster]` starts the clusters,
deploys k8s/production (k8s/dr on dr-*), prints the kubeconfig to export and runs until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from drillbook.errors import MissingDependency, StackError
from drillbook.platforms.ports import free_ports
from tests.k8s.pki import ClusterPki, make_pki

K8S_VERSION = "v1.37.2"
"""Must match the default of scripts/build-k8s.sh (a unit test checks that it does)."""
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kubectl",
)
STAGES = Path(__file__).with_name("kwok-stages.yaml")
NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
"""Cluster IPs are only written into Service objects: no kube-proxy routes them, nothing
connects to them."""
POD_CIDR = "192.0.2.1/24"
"""KWOK writes pod IPs from here into the pods' status: TEST-NET-1 (RFC 5737), reserved for
documentation and routed nowhere. Nothing connects to a pod IP (there are no containers and no
kube-proxy); loopback addresses cannot be used because EndpointSlice validation refuses them."""
_START_TIMEOUT = 180.0
_STOP_GRACE = 10.0
_PR_SET_PDEATHSIG = 1


def bin_dir() -> Path:
    """Where scripts/build-k8s.sh puts the binaries (DRILLBOOK_K8S_BIN overrides it)."""
    explicit = os.environ.get("DRILLBOOK_K8S_BIN")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("DRILLBOOK_CACHE") or Path.home() / ".cache" / "drillbook")
    return cache / f"k8s-{K8S_VERSION}" / "bin"


def missing_binaries(directory: Path | None = None) -> list[str]:
    where = directory or bin_dir()
    return [name for name in BINARIES if not os.access(where / name, os.X_OK)]


def require_binaries() -> Path:
    where = bin_dir()
    missing = missing_binaries(where)
    if missing:
        raise MissingDependency(
            f"the local Kubernetes control plane needs {', '.join(missing)} in {where}; "
            "build them with `bash scripts/setup.sh --with-kubernetes` (it runs "
            "scripts/build-k8s.sh)"
        )
    return where


def _die_with_parent() -> None:
    # If pytest is killed outright, the kernel kills the control plane with it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Cluster:
    """One running control plane."""

    name: str
    """Its kube context name (primary, dr-cluster)."""
    run_dir: Path
    server: str
    pki: ClusterPki
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    started_seconds: float = 0.0
    """Wall time from the first process started to nodes Ready."""

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def kubeconfig_entry(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        def data(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        cluster = {
            "name": self.name,
            "cluster": {
                "server": self.server,
                "certificate-authority-data": data(self.pki.ca_cert),
            },
        }
        user = {
            "name": f"{self.name}-admin",
            "user": {
                "client-certificate-data": data(self.pki.admin_cert),
                "client-key-data": data(self.pki.admin_key),
            },
        }
        context = {
            "name": self.name,
            "context": {"cluster": self.name, "user": f"{self.name}-admin"},
        }
        return cluster, user, context

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs.get(name)
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> list[str]:
        """SIGTERM every process (KWOK and controllers first, etcd last); SIGKILL stragglers."""
        killed: list[str] = []
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=_STOP_GRACE)
                killed.append(name)
        return killed


def write_kubeconfig(path: Path, clusters: Sequence[Cluster], *, current: str) -> Path:
    """One kubeconfig with a context per cluster, named after the cluster."""
    entries = [c.kubeconfig_entry() for c in clusters]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [e[0] for e in entries],
        "users": [e[1] for e in entries],
        "contexts": [e[2] for e in entries],
        "current-context": current,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path


def _component_kubeconfig(cluster: Cluster) -> Path:
    path = cluster.run_dir / "admin.kubeconfig"
    return write_kubeconfig(path, [cluster], current=cluster.name)


def _spawn(cluster: Cluster, name: str, argv: Sequence[str]) -> None:
    log_path = cluster.run_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cluster.run_dir,
            preexec_fn=_die_with_parent,
        )
    finally:
        log.close()
    cluster.processes[name] = proc
    cluster.logs[name] = log_path


def _wait(
    cluster: Cluster, what: str, ready: Callable[[], bool], *, deadline: float, watch: str
) -> None:
    while time.monotonic() < deadline:
        proc = cluster.processes[watch]
        if proc.poll() is not None:
            raise StackError(
                f"{watch} of cluster {cluster.name} exited with {proc.returncode} while waiting "
                f"for {what}; last log lines:\n{cluster.log_tail(watch)}"
            )
        try:
            if ready():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(
        f"cluster {cluster.name}: {what} not reached within {_START_TIMEOUT:.0f}s; last log "
        f"lines of {watch}:\n{cluster.log_tail(watch)}"
    )


def _tls(pki: ClusterPki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def start_cluster(
    name: str, run_dir: Path, *, binaries: Path | None = None, nodes: int = 2
) -> Cluster:
    """Start one control plane with `nodes` simulated nodes; returns when they are Ready."""
    where = binaries or require_binaries()
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    deadline = started + _START_TIMEOUT
    etcd_client, etcd_peer, apiserver, controller_manager, scheduler = free_ports(5)
    pki = make_pki(run_dir / "pki", cluster=name)
    cluster = Cluster(name=name, run_dir=run_dir, server=f"https://127.0.0.1:{apiserver}", pki=pki)
    try:
        _start_processes(
            cluster,
            where,
            etcd_client,
            etcd_peer,
            apiserver,
            controller_manager,
            scheduler,
            deadline,
        )
        _create_nodes(cluster, nodes, deadline)
    except BaseException:
        cluster.stop()
        raise
    cluster.started_seconds = time.monotonic() - started
    return cluster


def _start_processes(
    cluster: Cluster,
    where: Path,
    etcd_client: int,
    etcd_peer: int,
    apiserver: int,
    controller_manager: int,
    scheduler: int,
    deadline: float,
) -> None:
    pki = cluster.pki
    etcd_url = f"http://127.0.0.1:{etcd_client}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    _spawn(
        cluster,
        "etcd",
        [
            str(where / "etcd"),
            f"--name={cluster.name}",
            f"--data-dir={cluster.run_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={cluster.name}={peer_url}",
            "--log-level=warn",
            # A test cluster is thrown away after the session: fsync only costs time here.
            "--unsafe-no-fsync",
        ],
    )
    with httpx.Client(timeout=2.0) as plain:
        _wait(
            cluster,
            "etcd /health",
            lambda: plain.get(f"{etcd_url}/health").status_code == 200,
            deadline=deadline,
            watch="etcd",
        )
    issuer = "https://kubernetes.default.svc.cluster.local"
    _spawn(
        cluster,
        "kube-apiserver",
        [
            str(where / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The endpoint reconciler refuses a loopback address for the `kubernetes` Service;
            # nothing here reaches the API server through that Service anyway.
            "--endpoint-reconciler-type=none",
            f"--secure-port={apiserver}",
            f"--cert-dir={cluster.run_dir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.server_cert}",
            f"--tls-private-key-file={pki.server_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={issuer}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--api-audiences={issuer}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ],
    )
    tls = _tls(pki)
    with httpx.Client(timeout=2.0, verify=tls) as client:
        _wait(
            cluster,
            "kube-apiserver /readyz",
            lambda: client.get(f"{cluster.server}/readyz").status_code == 200,
            deadline=deadline,
            watch="kube-apiserver",
        )
    kubeconfig = _component_kubeconfig(cluster)
    _spawn(
        cluster,
        "kube-controller-manager",
        [
            str(where / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={controller_manager}",
            "--leader-elect=false",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--v=1",
        ],
    )
    _spawn(
        cluster,
        "kube-scheduler",
        [
            str(where / "kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={scheduler}",
            "--leader-elect=false",
            "--v=1",
        ],
    )
    _spawn(
        cluster,
        "kwok",
        [
            str(where / "kwok"),
            f"--kubeconfig={kubeconfig}",
            f"--config={STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            "--node-lease-duration-seconds=40",
            "--node-ip=127.0.0.1",
            f"--cidr={POD_CIDR}",
        ],
    )
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # their serving certs are self-signed, on loopback
    with httpx.Client(timeout=2.0, verify=insecure) as client:
        for name, port in (
            ("kube-controller-manager", controller_manager),
            ("kube-scheduler", scheduler),
        ):
            url = f"https://127.0.0.1:{port}/healthz"

            def healthy(url: str = url) -> bool:
                return client.get(url).status_code == 200

            _wait(cluster, f"{name} /healthz", healthy, deadline=deadline, watch=name)


def _create_nodes(cluster: Cluster, count: int, deadline: float) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(cluster.run_dir / "admin.kubeconfig"), context=cluster.name
    )
    with api_client:
        core = client.CoreV1Api(api_client)
        for index in range(count):
            name = f"kwok-node-{index}"
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake"},
                    "labels": {
                        "type": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/zone": f"zone-{index}",
                    },
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
            node = client.V1Node.from_dict(body)
            assert node is not None
            core.create_node(node)

        def nodes_ready() -> bool:
            items = core.list_node().items
            ready = [
                n
                for n in items
                if n.status is not None
                and any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
            ]
            return len(ready) == count

        _wait(cluster, f"{count} KWOK nodes Ready", nodes_ready, deadline=deadline, watch="kwok")

        def default_service_account() -> bool:
            accounts = core.list_namespaced_service_account("default").items
            names = [sa.metadata.name for sa in accounts if sa.metadata is not None]
            return "default" in names

        _wait(
            cluster,
            "the default service account",
            default_service_account,
            deadline=deadline,
            watch="kube-controller-manager",
        )


@contextlib.contextmanager
def running_clusters(
    names: Sequence[str], run_dir: Path | None = None
) -> Iterator[tuple[list[Cluster], Path]]:
    """Start clusters one after another; yields them and a kubeconfig with one context each."""
    root = run_dir or Path(tempfile.mkdtemp(prefix="drillbook-k8s-"))
    clusters: list[Cluster] = []
    try:
        for name in names:
            clusters.append(start_cluster(name, root / name))
        kubeconfig = write_kubeconfig(root / "kubeconfig", clusters, current=names[0])
        yield clusters, kubeconfig
    finally:
        for cluster in clusters:
            cluster.stop()
        if run_dir is None:
            shutil.rmtree(root, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str]) -> int:
    from tests.k8s.deploy import deploy_site

    # Ctrl-C or SIGTERM stops the clusters in order (a shell starts background jobs with
    # SIGINT ignored, so both are set here).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    names = list(argv) or ["primary"]
    with running_clusters(names) as (clusters, kubeconfig):
        for cluster in clusters:
            # The DR cluster gets the DR site (k8s/dr), every other one the primary site.
            overlay = "dr" if cluster.name.startswith("dr") else "production"
            deployed = deploy_site(kubeconfig, cluster.name, overlay)
            print(
                f"{cluster.name}: {cluster.server} (up in {cluster.started_seconds:.1f}s, "
                f"k8s/{overlay} rolled out in {deployed:.1f}s)"
            )
        print(f"export KUBECONFIG={kubeconfig}")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
