"""Session fixtures: the local Kubernetes control planes the Kubernetes tests run against.

The primary cluster starts once per session (with the reference stack from k8s/production);
the DR cluster starts only when a test asks for it (k8s/dr). Both are torn down by PID.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from tests.k8s.control_plane import (
    Cluster,
    bin_dir,
    missing_binaries,
    start_cluster,
    write_kubeconfig,
)
from tests.k8s.deploy import REPO, apply_manifest, deploy_site, kubectl

KWOK_CONFIG = REPO / "configs" / "kwok-local.toml"
RESTRICTED_ROLE = """
apiVersion: v1
kind: ServiceAccount
metadata:
  name: drill-runner
  namespace: eleanor-v8
---
# Everything a drill needs on the app but `delete` on pods.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: drill-runner
  namespace: eleanor-v8
rules:
  - apiGroups: [""]
    resources: ["pods", "events"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments", "deployments/scale"]
    verbs: ["get", "list", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: drill-runner
  namespace: eleanor-v8
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: drill-runner
subjects:
  - kind: ServiceAccount
    name: drill-runner
    namespace: eleanor-v8
"""


@dataclass
class LocalKubernetes:
    """The clusters of this session and the kubeconfig naming them (contexts = cluster names)."""

    root: Path
    clusters: dict[str, Cluster] = field(default_factory=dict)
    deploy_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def start(self, name: str, overlay: str) -> Cluster:
        if name not in self.clusters:
            cluster = start_cluster(name, self.root / name)
            self.clusters[name] = cluster
            write_kubeconfig(self.kubeconfig, list(self.clusters.values()), current="primary")
            self.deploy_seconds[name] = deploy_site(self.kubeconfig, name, overlay)
        return self.clusters[name]

    def config(self, **overrides: object) -> DrillbookConfig:
        """configs/kwok-local.toml, pointed at this session's kubeconfig."""
        return load_config(
            KWOK_CONFIG, overrides={"kubernetes.kubeconfig": str(self.kubeconfig), **overrides}
        )

    def stop(self) -> None:
        for cluster in reversed(list(self.clusters.values())):
            cluster.stop()


def _require_binaries() -> None:
    missing = missing_binaries()
    if not missing:
        return
    message = (
        f"the local Kubernetes control plane is not built: {', '.join(missing)} missing in "
        f"{bin_dir()}; run `bash scripts/setup.sh --with-kubernetes` (it builds them with "
        "scripts/build-k8s.sh)"
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)  # CI ran setup.sh: a missing binary is a bug
    pytest.skip(message)


@pytest.fixture(scope="session")
def local_k8s() -> Iterator[LocalKubernetes]:
    """The primary cluster, up with the reference stack deployed (k8s/production)."""
    _require_binaries()
    with tempfile.TemporaryDirectory(prefix="drillbook-k8s-") as root:
        clusters = LocalKubernetes(root=Path(root))
        try:
            clusters.start("primary", "production")
            yield clusters
        finally:
            clusters.stop()


@pytest.fixture(scope="session")
def primary(local_k8s: LocalKubernetes) -> Cluster:
    return local_k8s.clusters["primary"]


@pytest.fixture(scope="session")
def dr_cluster(local_k8s: LocalKubernetes) -> Cluster:
    """The DR site's cluster (context dr-cluster), with k8s/dr deployed; started on demand."""
    return local_k8s.start("dr-cluster", "dr")


@pytest.fixture(scope="session")
def restricted_kubeconfig(
    local_k8s: LocalKubernetes, primary: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A kubeconfig whose context `restricted` authenticates as the service account (token)."""
    apply_manifest(local_k8s.kubeconfig, "primary", RESTRICTED_ROLE)
    token = kubectl(
        local_k8s.kubeconfig,
        "create",
        "token",
        "drill-runner",
        "-n",
        "eleanor-v8",
        "--duration=1h",
        context="primary",
    ).stdout.strip()
    assert token.count(".") == 2, "a JWT from the TokenRequest API"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "primary",
                "cluster": {
                    "server": primary.server,
                    "certificate-authority-data": base64.b64encode(
                        primary.pki.ca_cert.read_bytes()
                    ).decode(),
                },
            }
        ],
        "users": [{"name": "drill-runner", "user": {"token": token}}],
        "contexts": [
            {"name": "restricted", "context": {"cluster": "primary", "user": "drill-runner"}}
        ],
        "current-context": "restricted",
    }
    path = tmp_path_factory.mktemp("rbac") / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    yield path
