"""The Kubernetes Secret provider of the secrets drill against a real API server.

The unit test (tests/unit/test_secret_providers.py) checks the same provider against an
autospec'd client; here the local control plane answers: a Secret read, deleted (with its copy
kept in the cluster), restored and re-created; errors for a deleted Secret, a wrong namespace
and an RBAC denial name provider and secret path and never the value; and a Secret a dead run
deleted is put back when the next run opens the Kubernetes target (its journaled undo).
Namespace `secret-provider-tests`, so the drills' eleanor-v8 is left alone.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from drillbook.assembly.kubernetes_target import journal_path, open_kubernetes_target
from drillbook.core.redaction import REDACTOR
from drillbook.core.undo_handlers import handler_undo
from drillbook.engine.undo import UndoJournal
from drillbook.errors import SecretAccessDenied, SecretNotFound
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.secrets.kubernetes import (
    BACKUP_LABEL,
    BACKUP_SUFFIX,
    KubernetesSecretProvider,
    put_back_secret,
)
from tests.k8s.conftest import LocalKubernetes
from tests.k8s.control_plane import Cluster
from tests.k8s.deploy import kubectl

pytestmark = [pytest.mark.integration]

NAMESPACE = "secret-provider-tests"
KEY = "jwt-secret"


@pytest.fixture(scope="module")
def platform(local_k8s: LocalKubernetes) -> Iterator[KubernetesPlatform]:
    connection = connect(str(local_k8s.kubeconfig), "primary")
    platform = KubernetesPlatform(connection, {})
    platform.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    try:
        yield platform
    finally:
        platform.core.delete_namespace(NAMESPACE)
        platform.close()


@pytest.fixture
def secret(
    platform: KubernetesPlatform, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    """A Secret of this test's own: (name, value); the value is made here, never in a file."""
    name = "jwt-" + request.node.name.replace("_", "-")[:40].rstrip("-")
    value = "k8s-provider-" + secrets.token_urlsafe(24)
    encoded = base64.b64encode(value.encode()).decode()
    platform.core.create_namespaced_secret(
        NAMESPACE,
        client.V1Secret(metadata=client.V1ObjectMeta(name=name), data={KEY: encoded}),
    )
    yield name, value
    for leftover in (name, name + BACKUP_SUFFIX):
        try:
            platform.core.delete_namespaced_secret(leftover, NAMESPACE)
        except client.exceptions.ApiException as exc:
            if exc.status != 404:
                raise


def _provider(platform: KubernetesPlatform, namespace: str = NAMESPACE) -> KubernetesSecretProvider:
    provider = platform.secrets_provider(namespace, KEY)
    assert isinstance(provider, KubernetesSecretProvider)
    return provider


def _exists(local_k8s: LocalKubernetes, name: str) -> bool:
    found = kubectl(
        local_k8s.kubeconfig, "get", "secret", name, "-n", NAMESPACE, "-o", "name",
        context="primary", check=False,
    )  # fmt: skip
    return found.returncode == 0


def test_read_delete_restore_and_recreate(
    platform: KubernetesPlatform, local_k8s: LocalKubernetes, secret: tuple[str, str]
) -> None:
    name, value = secret
    provider = _provider(platform)
    assert provider.get(name) == value
    # Read once, the value is known to the redactor: it never shows in a report.
    assert value not in REDACTOR.redact(f"jwt={value}")

    provider.delete(name)
    assert not _exists(local_k8s, name)
    copy = platform.core.read_namespaced_secret(name + BACKUP_SUFFIX, NAMESPACE)
    assert copy.metadata is not None
    assert copy.metadata.labels == {BACKUP_LABEL: name}
    with pytest.raises(SecretNotFound) as deleted:
        provider.get(name)
    message = str(deleted.value)
    assert message.startswith(
        f"secrets provider 'kubernetes', secret '{NAMESPACE}/secret/{name}#{KEY}': read: "
        f"no such Secret (kubectl get secret {name} -n {NAMESPACE})"
    ), message
    assert value not in message

    provider.restore(name)
    assert provider.get(name) == value
    assert not _exists(local_k8s, name + BACKUP_SUFFIX), "the copy is dropped once restored"

    # Gone without a copy (deleted by hand): put() re-creates it, as an operator would.
    platform.core.delete_namespaced_secret(name, NAMESPACE)
    rotated = "k8s-provider-" + secrets.token_urlsafe(24)
    provider.put(name, rotated)
    assert _exists(local_k8s, name)
    assert provider.get(name) == rotated


def test_a_wrong_namespace_is_named_in_the_error(
    platform: KubernetesPlatform, secret: tuple[str, str]
) -> None:
    name, value = secret
    with pytest.raises(SecretNotFound) as missing:
        _provider(platform, "no-such-namespace").get(name)
    message = str(missing.value)
    assert f"secret 'no-such-namespace/secret/{name}#{KEY}'" in message
    assert f"kubectl get secret {name} -n no-such-namespace" in message
    assert value not in message


def test_an_rbac_denial_names_the_missing_permission(
    restricted_kubeconfig: Path, secret: tuple[str, str]
) -> None:
    name, value = secret
    # The service account may read pods and patch deployments, but not read Secrets.
    restricted = KubernetesPlatform(connect(str(restricted_kubeconfig), "restricted"), {})
    try:
        with pytest.raises(SecretAccessDenied) as denied:
            _provider(restricted).get(name)
    finally:
        restricted.close()
    message = str(denied.value)
    assert f"secrets provider 'kubernetes', secret '{NAMESPACE}/secret/{name}#{KEY}'" in message
    assert "HTTP 403" in message and "kubectl auth can-i get secrets" in message
    assert value not in message


def test_a_secret_a_dead_run_deleted_is_put_back_by_the_next_run(
    platform: KubernetesPlatform,
    local_k8s: LocalKubernetes,
    primary: Cluster,
    secret: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, value = secret
    monkeypatch.setenv("DRILLBOOK_CACHE", str(tmp_path))
    # (kubectl's path depends on DRILLBOOK_CACHE too: this test asks the API only.)
    # What the secrets drill's fault does (scenarios/secrets/faults.py): journal the undo, then
    # delete.
    journal = UndoJournal(journal_path("primary", primary.server))
    journal.push(
        handler_undo(
            f"put back Secret {name}",
            put_back_secret,
            namespace=NAMESPACE,
            name=name,
            key=KEY,
            component=None,
        )
    )
    _provider(platform).delete(name)
    with pytest.raises(SecretNotFound):
        _provider(platform).get(name)

    # ... and the run dies there. The next run opening the target replays the undo.
    target = open_kubernetes_target(local_k8s.config())
    try:
        outcomes = target.replayed_undos
    finally:
        target.close()
    assert [(o.action.description, o.ok) for o in outcomes] == [(f"put back Secret {name}", True)]
    assert _provider(platform).get(name) == value
    with pytest.raises(SecretNotFound):  # the copy kept in the cluster is dropped
        _provider(platform).get(name + BACKUP_SUFFIX)
    assert journal.pending() == []
