"""Deploying the reference stack (k8s/) onto a local control plane, as the README says to.

`kubectl apply -k` of the site's overlay, after the secrets the manifests expect (random values,
never written to disk) and, because KWOK's simulated nodes have no volume provisioner, one
pre-created PersistentVolume per StatefulSet claim, which the real PV controller binds.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

from drillbook.core.redaction import register_secret
from tests.k8s.control_plane import bin_dir

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = (
    ("eleanor-v8", "deployment/eleanor-v8"),
    ("eleanor-db", "statefulset/postgres"),
    ("eleanor-cache", "statefulset/redis"),
    ("eleanor-vector", "statefulset/weaviate"),
)
_VOLUMES = 6


def kubectl(
    kubeconfig: Path,
    *args: str,
    context: str | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    argv = [str(bin_dir() / "kubectl"), f"--kubeconfig={kubeconfig}"]
    if context:
        argv.append(f"--context={context}")
    result = subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


def _persistent_volumes() -> str:
    docs = []
    for index in range(_VOLUMES):
        docs.append(
            f"""apiVersion: v1
kind: PersistentVolume
metadata:
  name: kwok-pv-{index}
spec:
  capacity:
    storage: 1Gi
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Delete
  hostPath:
    path: /nonexistent/kwok-pv-{index}
"""
        )
    return "---\n".join(docs)


def apply_manifest(kubeconfig: Path, context: str, text: str) -> None:
    argv = [
        str(bin_dir() / "kubectl"),
        f"--kubeconfig={kubeconfig}",
        f"--context={context}",
        "apply",
        "-f",
        "-",
    ]
    result = subprocess.run(
        argv, input=text, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl apply -f - failed:\n{result.stdout}{result.stderr}")


def create_secrets(kubeconfig: Path, context: str) -> dict[str, str]:
    """The secrets k8s/base expects, with fresh random values (registered for redaction)."""
    values = {"jwt-secret": secrets.token_hex(32), "db-password": secrets.token_hex(16)}
    for value in values.values():
        register_secret(value)
    for namespace, name, pairs in (
        ("eleanor-v8", "eleanor-v8-secrets", {"db-password": values["db-password"]}),
        ("eleanor-v8", "eleanor-v8-jwt-secret", {"jwt-secret": values["jwt-secret"]}),
        ("eleanor-db", "postgres-credentials", {"password": values["db-password"]}),
    ):
        # Through stdin as a manifest with stringData: the values never reach a command line.
        lines = "\n".join(f"  {k}: {v}" for k, v in pairs.items())
        apply_manifest(
            kubeconfig,
            context,
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"type: Opaque\nstringData:\n{lines}\n",
        )
    return values


def deploy_site(kubeconfig: Path, context: str, overlay: str, *, timeout: float = 180) -> float:
    """Apply k8s/<overlay> with its secrets and volumes; returns seconds until every rollout is
    complete."""
    started = time.monotonic()
    kubectl(
        kubeconfig, "apply", "-f", str(REPO / "k8s" / "base" / "namespaces.yaml"), context=context
    )
    apply_manifest(kubeconfig, context, _persistent_volumes())
    create_secrets(kubeconfig, context)
    kubectl(kubeconfig, "apply", "-k", str(REPO / "k8s" / overlay), context=context)
    for namespace, workload in WORKLOADS:
        remaining = max(10.0, timeout - (time.monotonic() - started))
        kubectl(
            kubeconfig,
            "rollout",
            "status",
            workload,
            "-n",
            namespace,
            f"--timeout={int(remaining)}s",
            context=context,
            timeout=remaining + 10,
        )
    return time.monotonic() - started
