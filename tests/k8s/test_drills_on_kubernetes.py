"""`pytest drills/monthly` on the Kubernetes platform, switched by configuration alone.

The drill modules are the ones the embedded stack runs; only --drillbook-config differs
(configs/kwok-local.toml). The pods are KWOK's, so the drills measure the platform: pods
deleted, replaced by their ReplicaSet or StatefulSet, a workload rolled or scaled back, Ready
again, timed from the API server's timestamps, and the pod-recovery figures land in the Allure
results. Every monthly scenario runs: application (pod kill, rollout restart, scale), database,
cache and vector store (pod kill), secrets (the JWT Secret deleted or revoked); what needs the
running service is recorded as not run, and only drills whose recovery happens inside a data
service (a restore, Sentinel's failover) or another provider are skipped, each saying why.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drillbook.core.redaction import register_secret
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.deploy import REPO

pytestmark = [pytest.mark.integration]

ALL_LOST = "Every application replica killed: recovered by the plan's rollout restart."
ONE_LOST = "One application replica killed: the other replicas keep the service up."
# Each drill that must pass on simulated pods, and what its recovery is timed by on the server:
# a killed pod's replacement ("kill", with how many pods) or the workload whole again on pods
# started since a fault that killed none ("rollout").
PLATFORM_DRILLS = {
    ALL_LOST: ("kill", 2),
    ONE_LOST: ("kill", 1),
    "The application scaled to zero replicas: recovered by the plan's kubectl scale.": (
        "rollout",
        2,
    ),
    "The database pod is killed: a restart recovers it and every committed write survives.": (
        "kill",
        1,
    ),
    "Every Redis node killed: recovered by restarting the Redis pods.": ("kill", 1),
    "Weaviate killed: recovered by the plan's pod restart, with no precedent lost.": ("kill", 1),
    "JWT secret deleted in the provider: recovered by falling back to environment variables.": (
        "rollout",
        2,
    ),
    "JWT secret deleted in the provider: restored (recovery window / undelete), then restart.": (
        "rollout",
        2,
    ),
    "Leaked JWT secret revoked and rotated: no token signed with it gets in, during or after.": (
        "rollout",
        2,
    ),
}
SKIP_REASONS = (
    # Recovery inside a data service, which simulated pods do not run.
    'the pods of this target are simulated (kubernetes.probes = "pod-readiness"',
    # Vault's and AWS's own drills, with the Kubernetes Secret as the only provider.
    "no secrets provider for this drill is configured",
)


def break_glass_env() -> dict[str, str]:
    """The operator's sealed copy the plan's Option A sets with `kubectl set env` (fresh
    values: simulated pods read nothing), registered so that no report shows them."""
    values = {"JWT_SECRET": secrets.token_hex(16), "ELEANOR_LLM_API_KEY": secrets.token_hex(16)}
    for value in values.values():
        register_secret(value)
    return values


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
        timeout=900,
        env={**os.environ, **break_glass_env(), "KUBECONFIG": str(kubeconfig)},
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
    summary = run.stdout.splitlines()[-1]
    assert "failed" not in summary and "error" not in summary, output


def test_every_monthly_scenario_passed_with_its_recovery_timed_on_the_servers_clock(
    monthly_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, results = monthly_run
    documents = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    passed = {d["name"] for d in documents if d["status"] == "passed"}
    assert passed == set(PLATFORM_DRILLS), sorted(passed ^ set(PLATFORM_DRILLS))
    scenarios = {
        label["value"]
        for d in documents
        if d["status"] == "passed"
        for label in d["labels"]
        if label["name"] == "feature"
    }
    assert scenarios >= {
        "application-failure",
        "database-failure",
        "cache-failure",
        "vector-database-failure",
        "secrets-management-failure",
    }
    for title, (how, pods) in PLATFORM_DRILLS.items():
        result = allure_result(results, title)
        figures = json.loads(attachment(results, result, "figures.json"))
        recovery = figures["companions"]["pod_recovery"]
        assert recovery["context"] == "primary", title
        server_rto = recovery["rto_server_seconds"]
        assert isinstance(server_rto, float) and 0 <= server_rto <= 30, (title, recovery)
        assert server_rto <= figures["rto"]["objective_seconds"], title
        if how == "kill":
            assert (recovery["pods_killed"], recovery["pods_recovered"]) == (pods, pods), title
            assert all(p["how"] == "replaced" for p in recovery["pods"]), title
        else:
            rollout = recovery["rollout"]
            assert recovery["pods_killed"] == 0, title
            assert rollout["recovered"] and len(rollout["pods_ready_since_fault"]) >= pods, title
        if title != ONE_LOST:  # absorbed: no outage, no RTO to judge
            assert isinstance(figures["rto"]["seconds"], float), title
            parameters = {p["name"]: p["value"] for p in result.get("parameters", [])}
            assert "RTO (server time)" in parameters, (title, parameters)
            assert figures["verdict"].startswith("RTO "), title
    # What needs the running service is named as not run, never passed.
    database = json.loads(
        attachment(
            results,
            allure_result(
                results,
                "The database pod is killed: a restart recovers it and "
                "every committed write survives.",
            ),
            "figures.json",
        )
    )
    not_run = {c["name"] for c in database["checks_not_run"]}
    assert not_run == {"evidence count matches the ledger", "data integrity verified"}
    assert not not_run & {c["name"] for c in database["checks"]}
    for document in documents:
        if document["status"] == "skipped":
            reason = document["statusDetails"]["message"]
            assert any(r in reason for r in SKIP_REASONS), reason


def test_pod_recovery_figures_are_in_the_allure_report(
    monthly_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, results = monthly_run
    result = allure_result(results, ALL_LOST)
    assert result["status"] == "passed"
    assert "platform:kubernetes" in {label["value"] for label in result["labels"]}
    figures = json.loads(attachment(results, result, "figures.json"))
    pods = figures["companions"]["pod_recovery"]
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
    assert 0 < figures["rto"]["seconds"] < 900
    assert figures["rto"]["outage_observed"] is True
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
    assert figures["rto"]["outage_observed"] is False
    assert figures["companions"]["pod_recovery"]["pods_killed"] == 1
    assert figures["companions"]["pod_recovery"]["pods_recovered"] == 1


def test_a_drill_as_a_service_account_without_delete_pods_stops_with_the_rbac_message(
    restricted_kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "restricted.toml"
    text = (
        KWOK_CONFIG.read_text()
        .replace('context = "primary"', 'context = "restricted"')
        .replace('name = "primary"', 'name = "restricted"')
    )
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
