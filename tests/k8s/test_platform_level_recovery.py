"""The platform-level pieces of the drills on simulated pods, against a real API server: what a
pod needs to start, a Secret deleted and put back by a journaled undo, `kubectl set env` keeping
the variables read from Secrets, and a workload timed back to whole on the server's clock.

A workload of its own (namespace drill-platform) so that the drills' eleanor-v8 is left alone.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest

from drillbook.core.undo import UndoAction
from drillbook.core.undo_handlers import handler_executor
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kubernetes import KubeComponent, KubernetesPlatform
from drillbook.platforms.rollout_recovery import rollout_recovery
from drillbook.scenarios.secrets.faults import delete_secret, revoke_secret
from drillbook.scenarios.workloads.faults import scale_down
from drillbook.secrets.store import SecretPaths, SecretStore
from tests.k8s.conftest import LocalKubernetes
from tests.k8s.deploy import apply_manifest

pytestmark = [pytest.mark.integration]

NAMESPACE = "drill-platform"
SECRET_VALUE = "drill-platform-jwt-4b1d"
WORKLOAD = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Secret
metadata:
  name: jwt
  namespace: {NAMESPACE}
stringData:
  jwt-secret: {SECRET_VALUE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: site
  namespace: {NAMESPACE}
data:
  site: primary
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: api}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: registry.invalid/api:1
          env:
            - {{name: MODE, value: normal}}
            - name: JWT_SECRET
              valueFrom:
                secretKeyRef: {{name: jwt, key: jwt-secret}}
            - name: SITE
              valueFrom:
                configMapKeyRef: {{name: site, key: site}}
"""
COMPONENTS = {"app": KubeComponent("app", NAMESPACE, "app=api", "deployment", "api")}


@pytest.fixture(scope="module")
def platform(local_k8s: LocalKubernetes) -> Iterator[KubernetesPlatform]:
    apply_manifest(local_k8s.kubeconfig, "primary", WORKLOAD)
    connection = connect(str(local_k8s.kubeconfig), "primary")
    platform = KubernetesPlatform(connection, COMPONENTS)
    platform.wait_until_ready("app", timeout=60)
    yield platform
    platform.close()


def store(platform: KubernetesPlatform) -> SecretStore:
    return SecretStore(
        platform.secrets_provider(NAMESPACE, "jwt-secret"), SecretPaths(jwt_secret="jwt")
    )


def test_a_deleted_secret_is_what_a_new_pod_would_miss_and_its_undo_puts_it_back(
    platform: KubernetesPlatform,
) -> None:
    assert platform.missing_config("app") == []
    fault = delete_secret(store(platform))
    fault.inject()
    assert platform.missing_config("app") == ["secret jwt does not exist"]
    # The undo is data naming a drillbook handler, replayed here as a later process would.
    assert fault.undo.platform == "drillbook"
    assert SECRET_VALUE not in json.dumps(fault.undo.args)  # no value is journaled
    handler_executor(platform)(fault.undo)
    assert platform.missing_config("app") == []
    assert base64.b64decode(platform.read_secret(NAMESPACE, "jwt")["jwt-secret"]).decode() == (
        SECRET_VALUE
    )
    assert not platform._secret_exists(NAMESPACE, "jwt-drillbook-backup")


def test_a_revoked_and_rotated_secret_is_put_back_and_the_pods_rolled_onto_it(
    platform: KubernetesPlatform,
) -> None:
    secrets = store(platform)
    fault = revoke_secret(secrets)
    fault.inject()
    secrets.provider.put("jwt", "rotated-after-the-leak")
    before = {p.uid for p in platform.pod_snapshots("app")}
    handler_executor(platform)(fault.undo)
    assert secrets.provider.get("jwt") == SECRET_VALUE
    # Pods read a Secret only when they start: the undo restarted them onto the original.
    after = {p.uid for p in platform.pod_snapshots("app") if not p.deleting}
    assert after and not after & before
    assert platform.rollout_complete("app")[0]


def test_set_env_keeps_the_variables_read_from_secrets_and_reset_env_restores_them(
    platform: KubernetesPlatform,
) -> None:
    deployed = platform.read_workload("app").spec.template.spec.containers[0].env
    platform.set_env("app", {"MODE": "fallback"})
    platform.wait_until_ready("app", timeout=90)
    env = platform.read_workload("app").spec.template.spec.containers[0].env
    by_name = {e.name: e for e in env}
    # The API server drops what it does not know: a valueFrom written as value_from is lost.
    assert by_name["JWT_SECRET"].value_from.secret_key_ref.name == "jwt"
    assert by_name["SITE"].value_from.config_map_key_ref.key == "site"
    assert platform.missing_config("app") == []
    platform.apply_undo(UndoAction("reset env", "kubernetes", "reset_env", {"component": "app"}))
    platform.wait_until_ready("app", timeout=90)
    assert platform.read_workload("app").spec.template.spec.containers[0].env == deployed


def test_a_scale_down_and_back_is_timed_on_the_servers_clock(
    platform: KubernetesPlatform,
) -> None:
    fault = scale_down(platform, "app")
    fault_at = platform.server_time()
    assert abs(fault_at - time.time()) < 5  # the same machine: the same clock, to the second
    fault.inject()
    assert platform.desired_replicas("app") == 0
    platform.apply_undo(fault.undo)  # scale back to 2, as the undo of a dead run would
    platform.wait_until_ready("app", timeout=60)
    recovery = rollout_recovery("app", platform.pod_snapshots("app"), fault_at=fault_at, desired=2)
    assert recovery.recovered
    assert len(recovery.ready_since) == 2
    # KWOK turns a pod Ready 1-2.5 s after it is scheduled; server times are whole seconds.
    assert recovery.ready_seconds is not None and 0 <= recovery.ready_seconds <= 15
