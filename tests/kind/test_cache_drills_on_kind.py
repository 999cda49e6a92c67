"""The cache drills of the DR plan (scenario 3) on real pods of the kind cluster, run as a user
runs them (pytest in a subprocess with --drillbook-config configs/kind.toml): Redis with
Sentinel on the node's network (k8s/kind-redis.yaml). Option A (every Redis pod killed, the
StatefulSet replaces them) and Option B (the master's pod killed, the Sentinels promote the
replica, the old master's replacement rejoins as a replica) both pass with every check run and
an RTO within the objective; afterwards both StatefulSets have their deployed pods back, Ready,
and the cache has one master, named by every Sentinel, with its replica linked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from drillbook.config.loader import load_config
from drillbook.probes.redis import snapshot
from tests.kind.cluster import REPO, KindCluster, run_drills

CONFIG = REPO / "configs" / "kind.toml"
OPTION_A = "Option A: pod restart"
OPTION_B = "Option B: Sentinel failover to the standby"
# Two drills, each with its baseline, fault, recovery and verification window: about 1 min.
RUN_TIMEOUT_SECONDS = 420.0


def deployed_replicas(name: str) -> int:
    """spec.replicas of statefulset/NAME as k8s/kind-redis.yaml deploys it."""
    documents = yaml.safe_load_all((REPO / "k8s" / "kind-redis.yaml").read_text())
    (workload,) = [
        d for d in documents if d and d["kind"] == "StatefulSet" and d["metadata"]["name"] == name
    ]
    replicas = workload["spec"]["replicas"]
    assert isinstance(replicas, int)
    return replicas


@pytest.fixture(scope="module")
def kind_run(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    runs: Path = tmp_path_factory.mktemp("kind-runs")
    return run_drills(
        kind_cluster, runs, ["drills/monthly/test_cache_failure.py"], RUN_TIMEOUT_SECONDS
    )


def test_both_cache_drills_pass_on_kind_with_every_check(kind_run: Any) -> None:
    drills = {d["option"]: d for d in kind_run["drills"]}
    assert set(drills) == {OPTION_A, OPTION_B}, kind_run["output"]
    assert kind_run["returncode"] == 0, kind_run["output"]
    assert kind_run["platform"] == "kubernetes", kind_run["platform"]
    for option, drill in sorted(drills.items()):
        assert drill["outcome"] == "passed", f"{option}: {drill['failure']}"
        # Every check of the plan ran here (none recorded as "not run" for a simulated pod).
        assert drill["checks_not_run"] == [], f"{option}: {drill['checks_not_run']}"
        checks = {c["name"]: c for c in drill["checks"]}
        for name in ("Redis connectivity", "cache operations", "cache hit rates"):
            assert checks[name]["passed"], f"{option}: {checks.get(name)}"
        rto = drill["rto"]
        print(f"kind: {option}: RTO {rto}, phases {drill['phases']}")
        assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    # The write the cache check made through the Sentinels' master reached the replica.
    operations = {c["name"]: c for c in drills[OPTION_B]["checks"]}["cache operations"]
    assert "acknowledged by 1 of 1 replicas" in operations["detail"], operations
    watched = drills[OPTION_B]["companions"]["cache"]
    assert watched["failover_seconds"] is not None, watched
    assert watched["master_after"] != watched["master_before"], watched


def test_the_cache_is_as_deployed_after_the_drills(
    kind_run: Any, kind_cluster: KindCluster
) -> None:
    for name, selector in (("redis", "app=redis"), ("redis-sentinel", "app=redis-sentinel")):
        replicas = deployed_replicas(name)
        workload = kind_cluster.kubectl_json("-n", "eleanor-cache", "get", f"statefulset/{name}")
        assert workload["spec"]["replicas"] == replicas, workload["spec"]
        assert workload["status"].get("readyReplicas") == replicas, workload["status"]
        pods = kind_cluster.kubectl_json("-n", "eleanor-cache", "get", "pods", "-l", selector)
        live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
        assert sorted(p["metadata"]["name"] for p in live) == [
            f"{name}-{ordinal}" for ordinal in range(replicas)
        ]
        for pod in live:
            ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            assert pod["status"]["phase"] == "Running" and ready.get("Ready") == "True", pod


def test_the_cache_roles_are_healthy_after_the_drills(kind_run: Any) -> None:
    settings = load_config(str(CONFIG)).cache
    seen = snapshot(settings, timeout=2.0)
    master = seen.agreed_master
    assert master is not None, f"the Sentinels do not agree: {dict(seen.sentinel_masters)}"
    assert len(seen.sentinel_masters) == 3, dict(seen.sentinel_masters)
    assert seen.masters == [n.name for n in seen.nodes.values() if n.address == master], seen.roles
    replicas = [n for n in seen.nodes.values() if n.address != master]
    assert len(replicas) == 1, seen.roles
    for replica in replicas:
        assert replica.role == "slave" and replica.link_up, replica
        assert replica.master_address == master, replica
