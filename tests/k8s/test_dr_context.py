"""The same query answered by the primary and by the DR cluster, switched by configuration alone.

Two real control planes (contexts primary and dr-cluster in one kubeconfig), each with its site
deployed (k8s/production, k8s/dr). The query is the drills' own probe, GET /components/app on
the target's base URL, plus the site the cluster says it is (ConfigMap eleanor-v8-site).
"""

from __future__ import annotations

import httpx
import pytest

from drillbook.assembly.kubernetes_target import open_dr_target
from drillbook.assembly.target import open_target
from drillbook.config.model import DrillbookConfig
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.target import Target
from tests.integration.processes import alive
from tests.k8s.conftest import LocalKubernetes
from tests.k8s.control_plane import Cluster

pytestmark = [pytest.mark.integration]


def answer(target: Target) -> tuple[int, dict[str, object], str]:
    """The probe's answer for the app, and the site its cluster says it is."""
    response = httpx.get(f"{target.base_url}/components/app", timeout=5)
    assert isinstance(target.platform, KubernetesPlatform)
    site = target.platform.core.read_namespaced_config_map("eleanor-v8-site", "eleanor-v8")
    assert site.data is not None
    return response.status_code, response.json(), site.data["site"]


def query(config: DrillbookConfig) -> tuple[int, dict[str, object], str, str]:
    target = open_target(config)
    try:
        code, body, site = answer(target)
        return code, body, site, target.config.kubernetes.context or ""
    finally:
        target.close()


def test_the_same_query_answers_from_primary_and_from_dr_by_configuration(
    local_k8s: LocalKubernetes, dr_cluster: Cluster
) -> None:
    primary = query(local_k8s.config())
    dr = query(local_k8s.config(**{"kubernetes.context": "dr-cluster"}))
    for code, body, _, _ in (primary, dr):
        assert code == 200
        assert body["component"] == "app"
        assert body["ready"] == 2 and body["complete"] is True
    assert (primary[2], primary[3], primary[1]["context"]) == ("primary", "primary", "primary")
    assert (dr[2], dr[3], dr[1]["context"]) == ("dr", "dr-cluster", "dr-cluster")
    # Different clusters, not one cluster answering twice: no pod is in both answers.
    primary_pods, dr_pods = primary[1]["pods"], dr[1]["pods"]
    assert isinstance(primary_pods, dict) and isinstance(dr_pods, dict)
    assert not set(primary_pods) & set(dr_pods)


def test_the_dr_target_comes_from_kubernetes_dr_context(
    local_k8s: LocalKubernetes, dr_cluster: Cluster
) -> None:
    target = open_dr_target(local_k8s.config())
    try:
        code, body, site = answer(target)
    finally:
        target.close()
    assert (code, site, body["context"]) == (200, "dr", "dr-cluster")


def test_a_cluster_torn_down_by_pid_leaves_no_process(local_k8s: LocalKubernetes) -> None:
    # A third, throwaway cluster: started, stopped, and every process it had is gone.
    from tests.k8s.control_plane import start_cluster

    cluster = start_cluster("teardown-check", local_k8s.root / "teardown-check", nodes=1)
    pids = cluster.pids
    assert set(pids) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    }
    assert all(alive(pid) for pid in pids.values())
    assert cluster.stop() == []  # all stopped on SIGTERM, none needed SIGKILL
    assert not [name for name, pid in pids.items() if alive(pid)]
