"""Kubernetes pieces that need no cluster: error messages, the readiness view, configuration.

Each path here also runs against the real API server in tests/k8s.
"""

from __future__ import annotations

import json

import httpx
import pytest

from drillbook.assembly.kubernetes_target import journal_path
from drillbook.config.loader import load_config
from drillbook.core.platform import ComponentStatus, Replica
from drillbook.errors import ConfigError, FaultFailed, TargetUnreachable
from drillbook.platforms.kube_errors import (
    ApiCall,
    KubernetesAccessDenied,
    KubernetesNotFound,
    explain,
)
from drillbook.platforms.pod_view import PodReadinessView
from tests.k8s.deploy import REPO

FORBIDDEN = json.dumps(
    {
        "kind": "Status",
        "message": 'pods "app-1" is forbidden: User "system:serviceaccount:ops:runner" cannot '
        'delete resource "pods" in API group "" in the namespace "eleanor-v8"',
        "reason": "Forbidden",
        "code": 403,
    }
)


def test_a_403_names_verb_resource_namespace_user_and_the_missing_rule() -> None:
    call = ApiCall("delete", "pods", "eleanor-v8", "app-1")
    error = explain(call, 403, FORBIDDEN, context="prod")
    assert isinstance(error, KubernetesAccessDenied)
    assert str(error) == (
        "the Kubernetes API refused 'delete pods app-1' in namespace 'eleanor-v8' for user "
        "'system:serviceaccount:ops:runner' (HTTP 403 Forbidden). Fix: add this rule to the Role "
        "the user is bound to in namespace 'eleanor-v8' (or a ClusterRole): "
        '{apiGroups: [""], resources: ["pods"], verbs: ["delete"]}'
    )


def test_a_403_on_a_subresource_of_an_api_group_names_both() -> None:
    call = ApiCall("patch", "deployments", "eleanor-v8", "eleanor-v8", "apps", "scale")
    message = str(explain(call, 403, b"{}", context="prod"))
    assert '{apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["patch"]}' in message


def test_a_404_of_a_namespace_and_of_a_workload_say_how_to_fix_each() -> None:
    namespace = explain(ApiCall("get", "pods", "eleanor-v9"), 404, "{}", context="kind")
    assert isinstance(namespace, KubernetesNotFound)
    assert "kubectl create namespace eleanor-v9" in str(namespace)
    workload = explain(
        ApiCall("get", "deployments", "eleanor-v8", "eleanor-v9", "apps"), 404, "{}", context="k"
    )
    assert "target.components.*.workload" in str(workload)


def test_no_answer_is_unreachable_and_a_500_during_a_drill_is_a_failed_fault() -> None:
    assert isinstance(
        explain(ApiCall("list", "pods", "x"), None, "refused", context="k"), TargetUnreachable
    )
    error = explain(
        ApiCall("delete", "pods", "x", "p"), 500, '{"message": "etcd"}', context="k", fault=True
    )
    assert isinstance(error, FaultFailed)
    assert "HTTP 500: etcd" in str(error)


def status(ready: int, desired: int = 2) -> ComponentStatus:
    replicas = tuple(
        Replica("app", f"app-{i}", None, running=i < ready, state="Running") for i in range(2)
    )
    return ComponentStatus("app", desired, ready, ready, replicas)


def test_the_readiness_view_answers_200_with_a_ready_pod_and_503_without() -> None:
    current = {"ready": 2}
    view = PodReadinessView(
        lambda name: (status(current["ready"]), [f"app-{i}" for i in range(current["ready"])]),
        "primary",
    )
    view.start()
    try:
        assert view.base_url.startswith("http://127.0.0.1:")
        whole = httpx.get(f"{view.base_url}/components/app", timeout=5)
        assert whole.status_code == 200
        assert whole.json()["complete"] is True
        assert whole.json()["context"] == "primary"
        current["ready"] = 1
        degraded = httpx.get(f"{view.base_url}/components/app", timeout=5).json()
        assert (degraded["ready"], degraded["complete"]) == (1, False)
        current["ready"] = 0
        assert httpx.get(f"{view.base_url}/components/app", timeout=5).status_code == 503
        assert httpx.get(f"{view.base_url}/other", timeout=5).status_code == 404
    finally:
        view.stop()


def test_the_readiness_view_turns_an_api_error_into_a_503_with_the_message() -> None:
    def refuse(name: str) -> tuple[ComponentStatus, list[str]]:
        raise KubernetesAccessDenied("refused 'list pods'")

    view = PodReadinessView(refuse, "primary")
    code, body = view.answer("/components/app")
    assert code == 503
    assert "refused 'list pods'" in str(body["error"])


def test_the_kubernetes_table_is_read_and_pod_readiness_needs_no_base_url() -> None:
    config = load_config(REPO / "configs" / "kwok-local.toml")
    assert config.platform == "kubernetes"
    assert config.target.base_url is None
    settings = config.kubernetes
    assert (settings.context, settings.dr_context, settings.probes) == (
        "primary",
        "dr-cluster",
        "pod-readiness",
    )
    assert settings.kill_grace_period_seconds == 0.0
    assert settings.request_timeout_seconds == 5.0


def test_http_probes_on_kubernetes_still_need_a_base_url() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "configs" / "kwok-local.toml", overrides={"kubernetes.probes": "http"})
    assert "key 'target.base_url'" in str(caught.value)
    assert 'kubernetes.probes = "pod-readiness"' in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("kubernetes.probes", "pods", "one of 'http', 'pod-readiness'"),
        ("kubernetes.request_timeout", "0s", "a duration > 0"),
        ("kubernetes.context", "", "a non-empty string"),
        ("kubernetes.namespace", "x", "kubernetes.namespace"),
    ],
)
def test_bad_kubernetes_keys_are_one_clear_error(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "configs" / "kwok-local.toml", overrides={key: value})
    assert expected in str(caught.value)


def test_undo_journals_are_per_context_and_server() -> None:
    a = journal_path("primary", "https://127.0.0.1:20001")
    b = journal_path("primary", "https://127.0.0.1:20002")
    assert a != b and a.parent == b.parent
    assert journal_path("a/b", "x").name.startswith("a_b-")
