"""The manifests under k8s/: rendered by kustomize, checked against the plan, and validated by
the API server itself (server-side dry run against the local control plane)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from drillbook.config.loader import load_config
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.deploy import REPO, kubectl

pytestmark = [pytest.mark.integration]

PLAN_NAMESPACES = {"eleanor-v8", "eleanor-db", "eleanor-cache", "eleanor-vector"}
PLAN_WORKLOADS = {
    ("Deployment", "eleanor-v8", "eleanor-v8", "eleanor-v8"),
    ("StatefulSet", "postgres", "eleanor-db", "postgres"),
    ("StatefulSet", "redis", "eleanor-cache", "redis"),
    ("StatefulSet", "weaviate", "eleanor-vector", "weaviate"),
}


def render(kubeconfig: Path, overlay: str) -> list[dict[str, Any]]:
    text = kubectl(kubeconfig, "kustomize", str(REPO / "k8s" / overlay)).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("overlay", ["production", "dr"])
def test_each_site_is_the_plans_stack_with_probes_and_requests(
    local_k8s: LocalKubernetes, overlay: str
) -> None:
    docs = render(local_k8s.kubeconfig, overlay)
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    assert namespaces == PLAN_NAMESPACES
    workloads = {
        (
            d["kind"],
            d["metadata"]["name"],
            d["metadata"]["namespace"],
            d["spec"]["selector"]["matchLabels"]["app"],
        )
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    assert workloads == PLAN_WORKLOADS  # the plan's kubectl commands name exactly these
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            where = f"{doc['kind']}/{doc['metadata']['name']} container {container['name']}"
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
            requests = container.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= set(requests), where
    site = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "eleanor-v8-site"
    )
    assert site["data"]["site"] == ("dr" if overlay == "dr" else "primary")


@pytest.mark.parametrize("overlay", ["production", "dr"])
def test_the_api_server_accepts_each_site_in_a_server_side_dry_run(
    local_k8s: LocalKubernetes, overlay: str
) -> None:
    result = kubectl(
        local_k8s.kubeconfig,
        "apply",
        "--dry-run=server",
        "-k",
        str(REPO / "k8s" / overlay),
        context="primary",
    )
    assert "(server dry run)" in result.stdout
    for _, name, _, _ in PLAN_WORKLOADS:
        assert name in result.stdout


def test_the_dry_run_would_catch_a_broken_manifest(
    local_k8s: LocalKubernetes, tmp_path: Path
) -> None:
    # The same Deployment with a probe port that no container declares and a bad quantity:
    # the server's validation refuses it, so the dry run above means something.
    docs = render(local_k8s.kubeconfig, "production")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"]["memory"] = "lots"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    result = kubectl(
        local_k8s.kubeconfig,
        "apply",
        "--dry-run=server",
        "-f",
        str(broken),
        context="primary",
        check=False,
    )
    assert result.returncode != 0
    assert "quantities must match the regular expression" in result.stderr


def test_the_kind_cluster_publishes_the_apis_node_port_on_loopback() -> None:
    kind = yaml.safe_load((REPO / "k8s" / "kind-cluster.yaml").read_text())
    mappings = kind["nodes"][0]["extraPortMappings"]
    assert {m["listenAddress"] for m in mappings} == {"127.0.0.1"}
    service = next(
        d
        for d in yaml.safe_load_all((REPO / "k8s" / "base" / "app.yaml").read_text())
        if d and d["kind"] == "Service"
    )
    # The API's; the other mapping is PostgreSQL's kind-only NodePort (test_kind_ledger.py).
    (mapping,) = [
        m for m in mappings if m["containerPort"] == service["spec"]["ports"][0]["nodePort"]
    ]
    kind_toml = (REPO / "configs" / "kind.toml").read_text()
    assert f'base_url = "http://127.0.0.1:{mapping["hostPort"]}"' in kind_toml
    assert f'context = "kind-{kind["name"]}"' in kind_toml


@pytest.mark.parametrize("overlay", ["production", "dr"])
def test_the_jwt_secret_the_secrets_drill_revokes_is_the_apis_own_and_alone(
    local_k8s: LocalKubernetes, overlay: str
) -> None:
    # The drill deletes or rotates [secrets] jwt_secret (key secrets.kubernetes.key) in
    # secrets.kubernetes.namespace: that must be what the API reads its JWT_SECRET from, and
    # nothing else may live in it, or the plan's fallback (kubectl set env JWT_SECRET=...)
    # could not start a pod while the Secret is gone.
    settings = load_config(KWOK_CONFIG).secrets
    deployment = next(
        d
        for d in render(local_k8s.kubeconfig, overlay)
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "eleanor-v8"
    )
    assert deployment["metadata"]["namespace"] == settings.kubernetes.namespace
    refs = {
        env["name"]: env["valueFrom"]["secretKeyRef"]
        for container in deployment["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert refs["JWT_SECRET"] == {"name": settings.jwt_secret, "key": settings.kubernetes.key}
    others = [name for name, ref in refs.items() if ref["name"] == settings.jwt_secret]
    assert others == ["JWT_SECRET"]


def test_the_api_is_ready_as_the_local_proxy_routes_and_live_on_livez() -> None:
    # Readiness is what the embedded stack's HAProxy checks (the replica reached its database
    # and holds its JWT secret), so a rollout on a cluster waits for the same thing as the
    # local rolling restart; liveness stays on /livez (the process serves at all).
    from drillbook.stack.layout import render_haproxy_conf
    from eleanor_reference.secrets_routes import READY_PATH

    deployment = next(
        d
        for d in yaml.safe_load_all((REPO / "k8s" / "base" / "app.yaml").read_text())
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "eleanor-v8"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == READY_PATH == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert f"option httpchk GET {READY_PATH}\n" in render_haproxy_conf(8080, [8081])
