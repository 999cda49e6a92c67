"""`pytest drills/monthly` on the Kubernetes platform, switched by configuration alone.

The drill modules are the ones the embedded stack runs; only --drillbook-config differs
(configs/kwok-local.toml). The pods are KWOK's, so the drills measure the platform: pods
deleted, replaced by their ReplicaSet, Ready again, timed from the API server's timestamps, and
the pod-recovery figures land in the Allure results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.deploy import REPO

pytestmark = [pytest.mark.integration]

ALL_LOST = "Every application replica killed: recovered by the plan's rollout restart."
ONE_LOST = "One application replica killed: the other replicas keep the service up."


def run_drills(
    kubeconfig: Path,
    results: Path,
    *,
    config: Path = KWOK_CONFIG,
    drills: str = "drills/monthly",
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            drills,
            "-p",
            "no:cacheprovider",
            "-rs",
            f"--drillbook-config={config}",
            f"--alluredir={results}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        check=False,
    )


def allure_result(results: Path, title: str) -> dict[str, Any]:
    for path in results.glob("*-result.json"):
        document = json.loads(path.read_text())
        if document.get("name") == title:
            return dict(document)
    raise AssertionError(f"no Allure result named {title!r} in {results}")


def attachment(results: Path, result: dict[str, Any], name: str) -> str:
    for item in result.get("attachments", []):
        if item["name"] == name:
            return (results / str(item["source"])).read_text()
    raise AssertionError(f"no attachment {name!r} in {result['name']}")


@pytest.fixture(scope="module")
def monthly_run(
    local_k8s: LocalKubernetes, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    results = tmp_path_factory.mktemp("allure-results")
    return run_drills(local_k8s.kubeconfig, results), results


def test_the_monthly_drills_pass_on_the_kubernetes_platform(
    monthly_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    run, _ = monthly_run
    output = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, output
    assert "platform=kubernetes" in run.stdout
    assert "test_one_replica_lost_is_absorbed PASSED" in run.stdout or "2 passed" in run.stdout, (
        output
    )
    assert "failed" not in run.stdout.splitlines()[-1], output


def test_pod_recovery_figures_are_in_the_allure_report(
    monthly_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, results = monthly_run
    result = allure_result(results, ALL_LOST)
    assert result["status"] == "passed"
    assert "platform:kubernetes" in {label["value"] for label in result["labels"]}
    figures = json.loads(attachment(results, result, "figures.json"))
    pods = figures["pod_recovery"]
    assert pods["context"] == "primary"
    assert pods["pods_killed"] == 2
    assert pods["pods_recovered"] == 2
    assert pods["pods_pending"] == []
    assert pods["timestamp_resolution_seconds"] == 1.0
    for pod in pods["pods"]:
        assert pod["how"] == "replaced"
        assert pod["owner"].startswith("ReplicaSet/eleanor-v8-")
        assert pod["replacement"] != pod["victim"]
        assert 0 <= pod["ready_seconds"] <= 30
    # The RTO the probes measured (platform level: a Ready pod behind the selector).
    assert 0 < figures["rto_seconds"] < 900
    assert figures["outage_observed"] is True
    events = attachment(results, result, "kubernetes-events.txt")
    assert "SuccessfulCreate" in events and "Scheduled" in events
    recovery = json.loads(attachment(results, result, "pod-recovery.json"))
    assert recovery["pods_recovered"] == 2


def test_one_pod_lost_is_absorbed_and_its_replacement_timed(
    monthly_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, results = monthly_run
    result = allure_result(results, ONE_LOST)
    assert result["status"] == "passed"
    figures = json.loads(attachment(results, result, "figures.json"))
    assert figures["outage_observed"] is False
    assert figures["pod_recovery"]["pods_killed"] == 1
    assert figures["pod_recovery"]["pods_recovered"] == 1


def test_a_drill_as_a_service_account_without_delete_pods_stops_with_the_rbac_message(
    restricted_kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "restricted.toml"
    text = KWOK_CONFIG.read_text().replace('context = "primary"', 'context = "restricted"')
    config.write_text(text)
    run = run_drills(
        restricted_kubeconfig,
        tmp_path / "results",
        config=config,
        drills="drills/monthly/test_application_failure.py",
    )
    assert run.returncode != 0
    assert "KubernetesAccessDenied" in run.stdout
    assert "'delete pods' in namespace 'eleanor-v8'" in run.stdout
    assert '{apiGroups: [""], resources: ["pods"], verbs: ["delete"]}' in run.stdout
    assert "Traceback" not in run.stdout
