"""The vector-store drills of the DR plan (scenario 4) on the real Weaviate pod of the kind
cluster, run as a user runs them (pytest in a subprocess with --drillbook-config
configs/kind.toml): Weaviate killed comes back by the plan's pod restart with no precedent lost,
and Weaviate's volume lost comes back from a backup the drill took through Weaviate's backup
API, with every precedent written before the backup back. Each has a measured RTO within the
objective; afterwards weaviate-0 runs as deployed, on its original volume (the quarantined data
put back), with the Precedent collection and the known precedents in it. `drillbook backup
weaviate` takes a backup on the cluster, and `drillbook restore weaviate` refuses to restore over
the live collection."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from drillbook.backup.weaviate_kubernetes import OFFSITE
from drillbook.core.contracts import precedent_id
from drillbook.scenarios.vector_store.companion import CORPUS
from tests.kind.cluster import REPO, KindCluster, run_drills

CONFIG = REPO / "configs" / "kind.toml"
DRILLS = "drills/monthly/test_vector_db_failure.py"
KILLED = "A: Weaviate killed, pod restart"
RESTORED = "B: data lost, restore from the latest backup"
# The drill module's WRITES_AFTER_BACKUP: precedents acknowledged after the backup, which the
# restore must lose (and nothing written before it).
WRITES_AFTER_BACKUP = 4
WEAVIATE_URL = "http://127.0.0.1:15880"
# Two drills, each with its baseline, fault, recovery and verification window: about 1.5 min.
RUN_TIMEOUT_SECONDS = 600.0


def deployed_replicas() -> int:
    """spec.replicas of statefulset/weaviate as k8s/base deploys it."""
    documents = yaml.safe_load_all((REPO / "k8s" / "base" / "weaviate.yaml").read_text())
    (statefulset,) = [d for d in documents if d and d["kind"] == "StatefulSet"]
    replicas = statefulset["spec"]["replicas"]
    assert isinstance(replicas, int)
    return replicas


@pytest.fixture(scope="module")
def kind_run(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    runs: Path = tmp_path_factory.mktemp("kind-vector-runs")
    return run_drills(kind_cluster, runs, [DRILLS], RUN_TIMEOUT_SECONDS)


def drills_of(run: Any) -> dict[str, Any]:
    return {d["option"]: d for d in run["drills"]}


def test_both_vector_drills_pass_on_kind_with_their_rto(kind_run: Any) -> None:
    drills = drills_of(kind_run)
    assert set(drills) == {KILLED, RESTORED}, kind_run["output"]
    assert kind_run["returncode"] == 0, kind_run["output"]
    assert kind_run["platform"] == "kubernetes", kind_run["platform"]
    for option, drill in sorted(drills.items()):
        assert drill["outcome"] == "passed", f"{option}: {drill['failure']}"
        # Every check ran: none was recorded as not run on this cluster.
        assert not drill.get("checks_not_run"), f"{option}: {drill.get('checks_not_run')}"
        rto = drill["rto"]
        assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
        # The kubelet's side of it: the replacement weaviate-0 Ready on the API server's clock.
        pods = drill["companions"]["pod_recovery"]
        assert pods["pods_recovered"] == pods["pods_killed"] == 1, pods
        print(
            f"kind: {option}: RTO {rto['seconds']:.2f} s (server side "
            f"{pods['rto_server_seconds']} s), phases {drill['phases']}"
        )


def test_weaviate_killed_loses_no_precedent(kind_run: Any) -> None:
    figures = drills_of(kind_run)[KILLED]["companions"]["precedents"]
    assert figures["precedents_acked_before_fault"] > 0, figures
    assert figures["precedents_lost"] == 0, figures
    assert figures["precedent_rpo_seconds"] == 0, figures


def test_the_restore_brings_back_what_the_backup_held(kind_run: Any) -> None:
    figures = drills_of(kind_run)[RESTORED]["companions"]["precedents"]
    created, used = figures["backup_created"], figures["backup_used"]
    # Restored from the backup the drill itself took, copied off the cluster and back.
    assert used["id"] == created["id"], figures
    assert used["downloaded_from_s3"] is True, figures
    assert created["files"] > 0 and created["size_bytes"] > 0, created
    # What was acknowledged after the backup is lost, and only that: the RPO is the backup's age
    # at the fault, as on Compose.
    lost = figures["precedents_lost"]
    assert WRITES_AFTER_BACKUP <= lost < figures["precedents_acked_before_fault"], figures
    assert figures["precedent_rpo_seconds"] > 0, figures


def test_weaviate_is_back_as_deployed_with_its_collection(
    kind_run: Any, kind_cluster: KindCluster
) -> None:
    replicas = deployed_replicas()
    statefulset = kind_cluster.kubectl_json("-n", "eleanor-vector", "get", "statefulset/weaviate")
    assert statefulset["spec"]["replicas"] == replicas, statefulset["spec"]
    annotations = statefulset["metadata"].get("annotations") or {}
    assert not [a for a in annotations if a.startswith("drillbook")], annotations
    assert statefulset["status"].get("readyReplicas") == replicas, statefulset["status"]
    pods = kind_cluster.kubectl_json("-n", "eleanor-vector", "get", "pods", "-l", "app=weaviate")
    live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert [p["metadata"]["name"] for p in live] == ["weaviate-0"], pods["items"]
    (pod,) = live
    ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    assert pod["status"]["phase"] == "Running" and ready.get("Ready") == "True", pod["status"]
    # On its own volume again, with the collection and what the drills wrote into it.
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["data-weaviate-0"], claims
    schema = httpx.get(f"{WEAVIATE_URL}/v1/schema", timeout=5).json()
    assert "Precedent" in [c["class"] for c in schema.get("classes") or []], schema
    # The undo put the original volume back: the precedents the restore lost (acknowledged
    # after the backup, before the fault) are there again, beside the known ones.
    lost = drills_of(kind_run)[RESTORED]["companions"]["precedents"]["precedents_lost_keys"]
    assert lost, "the restore drill lost nothing, so this proves nothing"
    wanted = {key: precedent_id(key) for key in [*lost, *(k.key for k in CORPUS)]}
    missing = [
        key
        for key, object_id in wanted.items()
        if httpx.head(f"{WEAVIATE_URL}/v1/objects/Precedent/{object_id}", timeout=5).status_code
        != 204
    ]
    assert not missing, missing


def drillbook_command(kind_cluster: KindCluster, *args: str) -> subprocess.CompletedProcess[str]:
    """`drillbook ARGS --config configs/kind.toml`, as an operator runs it."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("drillbook")), *args, "--config", str(CONFIG)],
        cwd=REPO,
        env={**kind_cluster.env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_drillbook_backs_weaviate_up_and_never_restores_over_it(
    kind_run: Any, kind_cluster: KindCluster
) -> None:
    made = drillbook_command(kind_cluster, "backup", "weaviate")
    assert made.returncode == 0, made.stdout + made.stderr
    (backup_id,) = re.findall(r"Weaviate backup (weaviate-\d{8}-\d{6}) ", made.stdout)
    offsite = REPO / OFFSITE / backup_id
    assert (offsite / "backup_config.json").is_file(), made.stdout
    # The plan's restore against a Weaviate that still has its collection: refused before
    # anything changes (a restore never overwrites one).
    refused = drillbook_command(kind_cluster, "restore", "weaviate", "--backup", backup_id)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "already has the collection(s) Precedent" in refused.stdout + refused.stderr
    schema = httpx.get(f"{WEAVIATE_URL}/v1/schema", timeout=5).json()
    assert "Precedent" in [c["class"] for c in schema.get("classes") or []], schema
