"""The application drills of the DR plan (scenario 1) on real pods of the kind cluster, run as
a user runs them (pytest in a subprocess with --drillbook-config configs/kind.toml): one
replica lost is absorbed by the Service's other endpoint, all replicas lost and scaled to zero
each recover with a measured RTO within the objective, and afterwards the Deployment has its
deployed replicas back, every pod Ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kind.cluster import REPO, KindCluster, run_drills

CONFIG = REPO / "configs" / "kind.toml"
EXPECTED = {
    "one replica lost, service keeps serving",
    "all replicas lost, rollout restart",
    "capacity lost (scaled to zero), kubectl scale",
}
# Three drills, each with its baseline, fault, recovery and verification window: about 2 min.
RUN_TIMEOUT_SECONDS = 600.0


def deployed_replicas() -> int:
    """spec.replicas of deployment/eleanor-v8 as k8s/base deploys it."""
    documents = yaml.safe_load_all((REPO / "k8s" / "base" / "app.yaml").read_text())
    (deployment,) = [d for d in documents if d and d["kind"] == "Deployment"]
    replicas = deployment["spec"]["replicas"]
    assert isinstance(replicas, int)
    return replicas


@pytest.fixture(scope="module")
def kind_run(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    runs: Path = tmp_path_factory.mktemp("kind-runs")
    return run_drills(
        kind_cluster, runs, ["drills/monthly/test_application_failure.py"], RUN_TIMEOUT_SECONDS
    )


def test_the_application_drills_pass_on_kind_with_their_rto(kind_run: Any) -> None:
    drills = {d["option"]: d for d in kind_run["drills"]}
    assert set(drills) == EXPECTED, kind_run["output"]
    assert kind_run["returncode"] == 0, kind_run["output"]
    assert kind_run["platform"] == "kubernetes", kind_run["platform"]
    for option, drill in sorted(drills.items()):
        assert drill["outcome"] == "passed", f"{option}: {drill['failure']}"
        print(f"kind: {option}: RTO {drill['rto']}, phases {drill['phases']}")
    for option in EXPECTED - {"one replica lost, service keeps serving"}:
        rto = drills[option]["rto"]
        assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    # The Service routed around the dead pod: its endpoint left as the kubelet saw it go.
    assert drills["one replica lost, service keeps serving"]["rto"]["outage_observed"] is False


def test_the_deployment_is_as_deployed_after_the_drills(
    kind_run: Any, kind_cluster: KindCluster
) -> None:
    replicas = deployed_replicas()
    deployment = kind_cluster.kubectl_json("-n", "eleanor-v8", "get", "deployment/eleanor-v8")
    assert deployment["spec"]["replicas"] == replicas, deployment["spec"]
    status = deployment["status"]
    assert status.get("readyReplicas") == status.get("updatedReplicas") == replicas, status
    pods = kind_cluster.kubectl_json("-n", "eleanor-v8", "get", "pods", "-l", "app=eleanor-v8")
    live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == replicas, [p["metadata"]["name"] for p in pods["items"]]
    for pod in live:
        ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        assert pod["status"]["phase"] == "Running" and ready.get("Ready") == "True", pod["status"]
