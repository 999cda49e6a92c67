"""`pytest drills/quarterly` on the Kubernetes platform: the full DR test on two clusters.

The quarterly module, unchanged, with configs/kwok-local.toml: its Kubernetes drill loses the
primary cluster's workloads (every one scaled to 0), activates the DR cluster (context
dr-cluster, k8s/dr deployed) and switches users to it, at the platform level (KWOK's pods run
no process: the data checks are recorded as not run, with why); the embedded stack's five
drills are skipped, naming the platform. Afterwards the primary is back at its replicas: the
fault's undo, which a runner killed mid-drill leaves for the next run to replay.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.assembly.clusters_target import open_two_clusters
from drillbook.assembly.target import open_target
from drillbook.config.model import DrillbookConfig
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.scenarios.sites.cluster_faults import lose_primary_cluster, restore_replicas
from drillbook.sites.clusters import DR, PRIMARY
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.control_plane import Cluster
from tests.k8s.deploy import REPO

pytestmark = [pytest.mark.integration]

CLUSTER_DRILL = "A on Kubernetes: primary cluster's workloads lost, fail over to the DR cluster"
EMBEDDED_DRILLS = {
    "test_primary_site_lost_failover_to_dr",
    "test_primary_site_lost_restored_from_offsite_backup",
    "test_failback_to_rebuilt_primary",
    "test_primary_partitioned_fenced_and_failed_over",
    "test_site_lost_restored_from_daily_dump_loses_writes",
}
DATA_CHECKS = {
    "evidence count matches the ledger",
    "data integrity verified",
    "Test precedent retrieval",
}


@dataclass(frozen=True)
class QuarterlyRun:
    process: subprocess.CompletedProcess[str]
    run: dict[str, Any]
    """The run's JSON file (--drillbook-runs-dir)."""
    skipped: dict[str, str]
    """Each skipped test's name and reason (JUnit XML: skips before a drill starts have no
    drill record)."""
    replicas_before: dict[str, int]
    after: dict[str, tuple[int, int]]
    """Each component at the primary after the run: (desired, ready)."""


def _primary_state(config: DrillbookConfig) -> dict[str, tuple[int, int]]:
    platform = KubernetesPlatform.from_settings(
        config.kubernetes, list(config.target.components.values())
    )
    try:
        return {
            name: (status.desired, status.ready)
            for name in config.target.components
            for status in [platform.status(name)]
        }
    finally:
        platform.close()


def _skips(junit: Path) -> dict[str, str]:
    skipped: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        skip = case.find("skipped")
        if skip is not None:
            skipped[str(case.get("name"))] = str(skip.get("message"))
    return skipped


@pytest.fixture(scope="module")
def quarterly(
    local_k8s: LocalKubernetes, dr_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> QuarterlyRun:
    config = local_k8s.config()
    before = _primary_state(config)
    work = tmp_path_factory.mktemp("quarterly-k8s")
    runs, junit = work / "runs", work / "junit.xml"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/quarterly",
            "-p",
            "no:cacheprovider",
            "-rs",
            f"--drillbook-config={KWOK_CONFIG}",
            f"--drillbook-runs-dir={runs}",
            f"--junitxml={junit}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KUBECONFIG": str(local_k8s.kubeconfig)},
        check=False,
    )
    files = sorted(runs.glob("run-*.json"))
    assert files, process.stdout[-4000:] + process.stderr[-2000:]
    return QuarterlyRun(
        process=process,
        run=json.loads(files[-1].read_text()),
        skipped=_skips(junit),
        replicas_before={name: desired for name, (desired, _) in before.items()},
        after=_primary_state(config),
    )


def _cluster_drill(run: dict[str, Any]) -> dict[str, Any]:
    found = [d for d in run["drills"] if d["option"] == CLUSTER_DRILL]
    assert len(found) == 1, [d["option"] for d in run["drills"]]
    drill: dict[str, Any] = found[0]
    return drill


def test_the_quarterly_run_passes_on_the_kubernetes_platform(quarterly: QuarterlyRun) -> None:
    process = quarterly.process
    output = process.stdout[-6000:] + process.stderr[-2000:]
    assert process.returncode == 0, output
    assert "platform=kubernetes" in process.stdout
    assert "1 passed, 5 skipped" in process.stdout.splitlines()[-1], output
    assert quarterly.run["platform"] == "kubernetes"
    assert quarterly.run["outcomes"] == {"passed": 1}, quarterly.run["outcomes"]


def test_the_cluster_failover_passed_with_an_rto_within_its_objective(
    quarterly: QuarterlyRun,
) -> None:
    drill = _cluster_drill(quarterly.run)
    assert drill["outcome"] == "passed", drill["failure"]
    assert drill["scenario"] == "complete-infrastructure-failure"
    rto = drill["rto"]
    assert rto["outage_observed"] is True, rto
    assert rto["seconds"] is not None and rto["seconds"] > 0, rto
    assert rto["within_objective"] is True, rto
    assert rto["seconds"] <= rto["objective_seconds"] == 15 * 60, rto
    assert drill["breaches"] == [], drill["breaches"]
    checks = {c["name"]: c["passed"] for c in drill["checks"]}
    assert checks == {
        "health checks passing": True,
        "critical endpoints responding": True,
        "every component ready at the dr cluster": True,
    }, drill["checks"]
    ready = next(c for c in drill["checks"] if c["name"].startswith("every component"))
    assert "at dr-cluster" in ready["detail"], ready
    # The runbook's two steps, timed, and the fault as it was injected.
    site = drill["companions"]["site_recovery"]
    steps = site["runbook_steps_seconds"]
    assert set(steps) == {
        "activate the DR cluster (dr-cluster)",
        "switch users to the dr cluster (dr-cluster)",
    }, steps
    assert all(seconds >= 0 for seconds in steps.values()), steps
    assert 0 < site["full_restoration_seconds"] < 4 * 3600, site
    assert drill["fault"].startswith("primary cluster 'primary' lost"), drill["fault"]


def test_the_data_checks_are_recorded_as_not_run_with_the_reason(quarterly: QuarterlyRun) -> None:
    drill = _cluster_drill(quarterly.run)
    not_run = {c["name"]: c["reason"] for c in drill["checks_not_run"]}
    assert set(not_run) == DATA_CHECKS, not_run
    for reason in not_run.values():
        assert reason.startswith("not run: needs the running service"), reason
        assert 'kubernetes.probes = "pod-readiness"' in reason, reason
    assert not set(not_run) & {c["name"] for c in drill["checks"]}


def test_the_embedded_stack_drills_are_skipped_naming_platform_kubernetes(
    quarterly: QuarterlyRun,
) -> None:
    assert set(quarterly.skipped) == EMBEDDED_DRILLS, quarterly.skipped
    for name, reason in quarterly.skipped.items():
        assert "platform 'kubernetes'" in reason, (name, reason)
        assert "embedded stack's two sites" in reason, (name, reason)
    # Skipped before a drill starts: no record, no baseline, no load.
    assert {d["option"] for d in quarterly.run["drills"]} == {CLUSTER_DRILL}


def test_the_primary_cluster_is_back_at_its_replicas_after_the_drill(
    quarterly: QuarterlyRun,
) -> None:
    assert quarterly.replicas_before == {
        "app": 2,
        "database": 1,
        "cache": 1,
        "vector_store": 1,
    }, quarterly.replicas_before
    assert quarterly.after == {
        name: (count, count) for name, count in quarterly.replicas_before.items()
    }, quarterly.after


def test_a_runner_killed_after_the_fault_leaves_the_undo_the_next_run_replays(
    local_k8s: LocalKubernetes, dr_cluster: Cluster
) -> None:
    config = local_k8s.config()
    clusters = open_two_clusters(config)
    try:
        fault = lose_primary_cluster(clusters)
        clusters.primary.journal.push(fault.undo)  # what Drill.inject does before injecting
        fault.inject()
    finally:
        clusters.close()  # the runner dies here: nothing undone
    lost = _primary_state(config)
    assert all(state == (0, 0) for state in lost.values()), lost
    target = open_target(config)  # the next run against the primary cluster
    try:
        replayed = target.replayed_undos
    finally:
        target.close()
    handler = f"{restore_replicas.__module__}:{restore_replicas.__qualname__}"
    assert [(o.action.verb, o.ok) for o in replayed] == [(handler, True)], replayed
    back = _primary_state(config)
    assert back == {"app": (2, 2), "database": (1, 1), "cache": (1, 1), "vector_store": (1, 1)}


def test_the_drill_targets_address_follows_the_switch_to_the_dr_cluster(
    local_k8s: LocalKubernetes, dr_cluster: Cluster
) -> None:
    clusters = open_two_clusters(local_k8s.config())
    try:
        url = f"{clusters.primary.base_url}/components"
        assert clusters.primary.base_url == clusters.base_url
        before = httpx.get(url, timeout=5).json()
        clusters.switch_to(DR)
        after = httpx.get(url, timeout=5).json()
    finally:
        clusters.close()
    assert (before["cluster"], before["context"], before["ready"]) == (PRIMARY, "primary", True)
    assert (after["cluster"], after["context"], after["ready"]) == (DR, "dr-cluster", True)
    assert after["components"]["app"]["context"] == "dr-cluster"
    # Two clusters, not one answering twice: the app's pods differ.
    assert not set(before["components"]["app"]["pods"]) & set(after["components"]["app"]["pods"])
