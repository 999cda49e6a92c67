"""Providers that need no server: Kubernetes Secrets (against an autospec'd CoreV1Api; its test
against a real API server waits for the Kubernetes platform) and environment variables."""

from __future__ import annotations

import base64
from typing import Any
from unittest import mock

import pytest
from kubernetes.client import CoreV1Api, V1Secret
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from drillbook.errors import SecretAccessDenied, SecretNotFound, SecretProviderUnreachable
from drillbook.secrets.base import SecretProvider
from drillbook.secrets.environment import EnvironmentProvider
from drillbook.secrets.kubernetes import KubernetesSecretProvider

VALUE = "kube-s3cret-value"


def _encoded(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


@pytest.fixture(scope="module")
def _spec() -> Any:
    # Autospeccing CoreV1Api (hundreds of methods) takes over a second: once per module.
    return mock.create_autospec(CoreV1Api, instance=True)


@pytest.fixture
def api(_spec: Any) -> Any:
    _spec.reset_mock(return_value=True, side_effect=True)
    return _spec


def test_both_satisfy_the_protocol(api: Any) -> None:
    assert isinstance(KubernetesSecretProvider(api, namespace="ns"), SecretProvider)
    assert isinstance(EnvironmentProvider({}), SecretProvider)


def test_kubernetes_get_decodes_the_key(api: Any) -> None:
    api.read_namespaced_secret.return_value = V1Secret(data={"value": _encoded(VALUE)})
    provider = KubernetesSecretProvider(api, namespace="eleanor-v8")
    assert provider.get("eleanor-jwt") == VALUE
    api.read_namespaced_secret.assert_called_once_with("eleanor-jwt", "eleanor-v8")


def test_kubernetes_put_patches_or_creates(api: Any) -> None:
    provider = KubernetesSecretProvider(api, namespace="ns", key="jwt")
    provider.put("s", VALUE)
    api.patch_namespaced_secret.assert_called_once_with(
        "s", "ns", {"data": {"jwt": _encoded(VALUE)}}
    )
    api.patch_namespaced_secret.side_effect = ApiException(status=404, reason="Not Found")
    provider.put("t", VALUE)
    body = api.create_namespaced_secret.call_args.args[1]
    assert body["metadata"] == {"name": "t", "namespace": "ns"}
    assert body["data"] == {"jwt": _encoded(VALUE)}


def _cluster(api: Any, secrets: dict[str, dict[str, str]]) -> None:
    """The autospec'd API backed by a dict of Secret name -> data, as the server keeps them."""

    def read(name: str, namespace: str) -> V1Secret:
        if name not in secrets:
            raise ApiException(status=404, reason="Not Found")
        return V1Secret(data=dict(secrets[name]))

    def create(namespace: str, body: dict[str, Any]) -> None:
        secrets[body["metadata"]["name"]] = dict(body["data"])

    def delete(name: str, namespace: str) -> None:
        if secrets.pop(name, None) is None:
            raise ApiException(status=404, reason="Not Found")

    api.read_namespaced_secret.side_effect = read
    api.create_namespaced_secret.side_effect = create
    api.delete_namespaced_secret.side_effect = delete


def test_kubernetes_delete_keeps_a_copy_in_the_cluster_that_any_process_restores(
    api: Any,
) -> None:
    secrets = {"s": {"value": _encoded(VALUE)}}
    _cluster(api, secrets)
    KubernetesSecretProvider(api, namespace="ns").delete("s")
    assert set(secrets) == {"s-drillbook-backup"}
    backup = api.create_namespaced_secret.call_args.args[1]
    assert backup["metadata"]["labels"] == {"drillbook.dev/backup-of": "s"}
    # Another provider (another process: the undo of a run that died) restores it.
    KubernetesSecretProvider(api, namespace="ns").restore("s")
    assert secrets == {"s": {"value": _encoded(VALUE)}}


def test_kubernetes_put_back_after_a_rotation_replaces_the_new_value_with_the_kept_one(
    api: Any,
) -> None:
    secrets = {"s": {"value": _encoded(VALUE)}}
    _cluster(api, secrets)
    provider = KubernetesSecretProvider(api, namespace="ns")
    provider.delete("s")
    api.patch_namespaced_secret.side_effect = ApiException(status=404, reason="Not Found")
    provider.put("s", "rotated-value")  # revoked, then rotated: created anew
    assert secrets["s"] == {"value": _encoded("rotated-value")}
    api.patch_namespaced_secret.side_effect = None
    assert KubernetesSecretProvider(api, namespace="ns").put_back("s") == "replaced"
    patch = api.patch_namespaced_secret.call_args
    assert patch.args[2] == [
        {"op": "replace", "path": "/data", "value": {"value": _encoded(VALUE)}}
    ]
    assert "s-drillbook-backup" not in secrets
    assert provider.put_back("s") is None  # nothing kept any more: nothing to put back


def test_kubernetes_restore_without_a_copy_needs_the_secret_to_exist(api: Any) -> None:
    api.read_namespaced_secret.side_effect = ApiException(status=404, reason="Not Found")
    with pytest.raises(SecretNotFound, match="kubectl get secret s -n ns"):
        KubernetesSecretProvider(api, namespace="ns").restore("s")


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (ApiException(status=404, reason="Not Found"), SecretNotFound, "no such Secret"),
        (ApiException(status=403, reason="Forbidden"), SecretAccessDenied, "HTTP 403"),
        (MaxRetryError(None, "/api", "refused"), SecretProviderUnreachable, "does not answer"),  # type: ignore[arg-type]
    ],
)
def test_kubernetes_errors_name_provider_and_path(
    api: Any, error: Exception, kind: type[Exception], text: str
) -> None:
    api.read_namespaced_secret.side_effect = error
    with pytest.raises(kind) as raised:
        KubernetesSecretProvider(api, namespace="ns").get("eleanor-jwt")
    message = str(raised.value)
    assert "secrets provider 'kubernetes', secret 'ns/secret/eleanor-jwt#value'" in message
    assert text in message


def test_environment_delete_and_restore() -> None:
    environ = {"JWT_SECRET": VALUE}
    provider = EnvironmentProvider(environ)
    assert provider.get("JWT_SECRET") == VALUE
    provider.delete("JWT_SECRET")
    with pytest.raises(SecretNotFound) as raised:
        provider.get("JWT_SECRET")
    assert "'$JWT_SECRET'" in str(raised.value) and VALUE not in str(raised.value)
    provider.restore("JWT_SECRET")
    assert environ == {"JWT_SECRET": VALUE}
    provider.put("OTHER", "x-value")
    assert environ["OTHER"] == "x-value"
