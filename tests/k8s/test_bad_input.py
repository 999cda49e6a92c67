"""Bad input on the Kubernetes platform: one clear message each, nothing injected.

Unreachable cluster, unknown context, missing namespace, an RBAC denial for a service
account whose Role lacks `delete pods` (a real token, real RBAC authorization), and what the
allow-list refuses: a context pointing at another API server, a workload not on the list.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from drillbook.assembly.kubernetes_target import open_kubernetes_target
from drillbook.config.loader import load_config
from drillbook.errors import ConfigError, NotAllowed, TargetUnreachable
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kube_errors import KubernetesAccessDenied, KubernetesNotFound
from drillbook.platforms.kubernetes import KubeComponent, KubernetesPlatform
from drillbook.platforms.ports import free_ports
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes

pytestmark = [pytest.mark.integration]

APP = KubeComponent("app", "eleanor-v8", "app=eleanor-v8", "deployment", "eleanor-v8")


def test_a_role_without_delete_pods_gets_one_message_naming_verb_resource_namespace_and_fix(
    restricted_kubeconfig: Path,
) -> None:
    platform = KubernetesPlatform(connect(str(restricted_kubeconfig), None), {"app": APP})
    try:
        assert platform.status("app").ready == 2  # reading is allowed
        with pytest.raises(KubernetesAccessDenied) as caught:
            platform.kill("app", count=1)
    finally:
        platform.close()
    message = str(caught.value)
    assert "'delete pods" in message
    assert "namespace 'eleanor-v8'" in message
    assert "system:serviceaccount:eleanor-v8:drill-runner" in message
    assert "HTTP 403" in message
    assert '{apiGroups: [""], resources: ["pods"], verbs: ["delete"]}' in message
    assert "Traceback" not in message
    # Nothing was injected: both pods still run.
    assert len(platform.kills) == 0


def test_the_preflight_refuses_the_same_role_before_anything_is_injected(
    local_k8s: LocalKubernetes, restricted_kubeconfig: Path
) -> None:
    config = load_config(
        KWOK_CONFIG,
        overrides={
            "kubernetes.kubeconfig": str(restricted_kubeconfig),
            "kubernetes.context": "restricted",
            "allow.contexts": [{"name": "restricted"}, {"name": "dr-cluster"}],
        },
    )
    only_app = {"app": config.target.components["app"]}
    config = dataclasses.replace(
        config, target=dataclasses.replace(config.target, components=only_app)
    )
    with pytest.raises(KubernetesAccessDenied) as caught:
        open_kubernetes_target(config)
    message = str(caught.value)
    assert "nothing was injected" in message
    assert "'delete pods' in namespace 'eleanor-v8'" in message
    assert "'patch statefulsets" not in message  # only the app was asked for


def test_an_unknown_context_names_the_contexts_there_are(local_k8s: LocalKubernetes) -> None:
    with pytest.raises(ConfigError) as caught:
        connect(str(local_k8s.kubeconfig), "prod-eu")
    message = str(caught.value)
    assert "kube context 'prod-eu' is not in kubeconfig" in message
    assert "primary" in message


def test_an_unreachable_cluster_says_which_server_and_how_to_check(
    local_k8s: LocalKubernetes, tmp_path: Path
) -> None:
    document = yaml.safe_load(local_k8s.kubeconfig.read_text())
    closed = free_ports(1)[0]  # nothing listens there
    for cluster in document["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{closed}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(TargetUnreachable) as caught:
        connect(str(path), "primary", request_timeout=2)
    message = str(caught.value)
    assert f"127.0.0.1:{closed}" in message
    assert "cannot be reached" in message
    assert "kubectl --context primary cluster-info" in message


def test_a_missing_namespace_is_named_with_the_fix(local_k8s: LocalKubernetes) -> None:
    ghost = KubeComponent("app", "eleanor-v9", "app=eleanor-v8", "deployment", "eleanor-v8")
    platform = KubernetesPlatform(connect(str(local_k8s.kubeconfig), "primary"), {"app": ghost})
    try:
        with pytest.raises(KubernetesNotFound) as caught:
            platform.check_access()
    finally:
        platform.close()
    message = str(caught.value)
    assert "namespace 'eleanor-v9' does not exist" in message
    assert "kubectl create namespace eleanor-v9" in message


def test_a_context_pointing_at_another_api_server_is_refused_before_any_call(
    local_k8s: LocalKubernetes,
) -> None:
    elsewhere = "https://127.0.0.1:1"
    config = local_k8s.config(
        **{"allow.contexts": [{"name": "primary", "api_server": elsewhere}, {"name": "dr-cluster"}]}
    )
    with pytest.raises(NotAllowed) as caught:
        open_kubernetes_target(config)
    message = str(caught.value)
    assert "kube context 'primary' points at API server https://127.0.0.1:" in message
    assert f"allows it only at {elsewhere}" in message
    # The same context at the server it really has is allowed.
    server = local_k8s.clusters["primary"].server
    allowed = local_k8s.config(
        **{"allow.contexts": [{"name": "primary", "api_server": server}, {"name": "dr-cluster"}]}
    )
    target = open_kubernetes_target(allowed)
    target.close()


def test_a_workload_off_the_allow_list_is_refused_and_nothing_is_deleted(
    local_k8s: LocalKubernetes,
) -> None:
    config = local_k8s.config(**{"allow.workloads": ["statefulset/postgres"]})
    target = open_kubernetes_target(config)
    try:
        platform = target.platform
        assert isinstance(platform, KubernetesPlatform)
        before = platform.status("app")
        with pytest.raises(NotAllowed) as caught:
            platform.kill("app", count=1)
        assert "workload 'deployment/eleanor-v8' in eleanor-v8 is not in allow.workloads" in str(
            caught.value
        )
        with pytest.raises(NotAllowed):
            platform.scale("app", 0)
        assert platform.kills == []
        assert platform.status("app").desired == before.desired
    finally:
        target.close()
