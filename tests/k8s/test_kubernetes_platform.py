"""The Kubernetes platform's verbs against a real API server, controllers and scheduler.

Workloads of their own (namespace drill-tests) so that the drills' eleanor-v8 is left alone.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator

import pytest

from drillbook.core.redaction import REDACTOR
from drillbook.core.undo import UndoAction
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kubernetes import (
    RESTARTED_AT,
    SECRET_BACKUP_SUFFIX,
    STOPPED_REPLICAS,
    KubeComponent,
    KubernetesPlatform,
)
from drillbook.platforms.pod_replacement import match_replacements
from tests.k8s.conftest import LocalKubernetes
from tests.k8s.deploy import apply_manifest, kubectl

pytestmark = [pytest.mark.integration]

NAMESPACE = "drill-tests"
WORKLOADS = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
          env:
            - {{name: MODE, value: normal}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: kv
  namespace: {NAMESPACE}
spec:
  serviceName: kv
  replicas: 2
  selector:
    matchLabels: {{app: kv}}
  template:
    metadata:
      labels: {{app: kv}}
    spec:
      containers:
        - name: kv
          image: registry.invalid/kv:1
---
apiVersion: v1
kind: Secret
metadata:
  name: api-key
  namespace: {NAMESPACE}
stringData:
  value: drill-test-secret-7f3a9c
"""
COMPONENTS = {
    "web": KubeComponent("web", NAMESPACE, "app=web", "deployment", "web"),
    "kv": KubeComponent("kv", NAMESPACE, "app=kv", "statefulset", "kv"),
}


@pytest.fixture(scope="module")
def platform(local_k8s: LocalKubernetes) -> Iterator[KubernetesPlatform]:
    apply_manifest(local_k8s.kubeconfig, "primary", WORKLOADS)
    connection = connect(str(local_k8s.kubeconfig), "primary")
    platform = KubernetesPlatform(connection, COMPONENTS)
    for name in COMPONENTS:
        platform.wait_until_ready(name, timeout=60)
    yield platform
    platform.close()


def test_replicas_and_status_come_from_the_pods_behind_the_selector(
    platform: KubernetesPlatform,
) -> None:
    status = platform.status("web")
    assert status.desired == 2
    assert status.ready == 2
    assert status.healthy
    assert [r.state for r in status.replicas] == ["Running", "Running"]
    assert all(r.pid is None and r.started_at for r in status.replicas)


def test_killed_pods_are_replaced_and_matched_by_owner_with_server_timestamps(
    platform: KubernetesPlatform,
) -> None:
    before = {p.uid for p in platform.pod_snapshots("web")}
    killed = platform.kill("web", count="all")
    assert len(killed) == 2
    record = platform.kills[-1]
    assert {k.pod.uid for k in record.killed} == before
    platform.wait_until_ready("web", timeout=60)
    now = platform.pod_snapshots("web")
    assert not before & {p.uid for p in now}, "force-deleted pods must be gone"
    recoveries = match_replacements(list(record.killed), now, existed_before=record.existed_before)
    assert [r.kind for r in recoveries] == ["replaced", "replaced"]
    assert len({r.replacement_uid for r in recoveries}) == 2
    for recovery in recoveries:
        assert recovery.owner is not None and recovery.owner.startswith("ReplicaSet/web-")
        # KWOK turns a pod Ready 1-1.5 s after it is scheduled; server times are whole seconds.
        assert recovery.ready_seconds is not None and 0 <= recovery.ready_seconds <= 10
        assert recovery.scheduled_seconds is not None
        assert recovery.scheduled_seconds <= recovery.ready_seconds


def test_a_graceful_kill_leaves_the_pod_terminating_for_its_grace_period(
    platform: KubernetesPlatform,
) -> None:
    platform.kill_grace_period_seconds = 30
    try:
        (victim,) = platform.kill("web", count=1)
    finally:
        platform.kill_grace_period_seconds = 0
    # KWOK finishes a terminating pod at once (there is no container to stop): it is gone or
    # terminating, never a running replica any more.
    states = {r.name: r for r in platform.replicas("web")}
    assert victim.name not in states or states[victim.name].state == "Terminating"
    platform.wait_until_ready("web", timeout=60)


def test_a_statefulset_pod_comes_back_under_its_own_name(platform: KubernetesPlatform) -> None:
    platform.kill("kv", names=["kv-1"])
    record = platform.kills[-1]
    platform.wait_until_ready("kv", timeout=60)
    (recovery,) = match_replacements(
        list(record.killed), platform.pod_snapshots("kv"), existed_before=record.existed_before
    )
    assert recovery.kind == "replaced"
    assert recovery.replacement == "kv-1"
    assert recovery.replacement_uid != record.killed[0].pod.uid


def test_rollout_restart_sends_the_patch_kubectl_sends(
    platform: KubernetesPlatform, local_k8s: LocalKubernetes
) -> None:
    old = {p.uid for p in platform.pod_snapshots("web")}
    platform.restart("web")
    waited = platform.wait_until_ready("web", timeout=90)
    annotation = platform.read_workload("web").spec.template.metadata.annotations[RESTARTED_AT]
    now = {p.uid for p in platform.pod_snapshots("web")}
    assert not old & now, "every pod replaced"
    assert waited > 0
    # kubectl's own restart writes the same annotation in the same format (RFC 3339).
    kubectl(local_k8s.kubeconfig, "rollout", "restart", "deployment/web", "-n", NAMESPACE)
    platform.wait_until_ready("web", timeout=90)
    theirs = platform.read_workload("web").spec.template.metadata.annotations[RESTARTED_AT]
    rfc3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)")
    assert rfc3339.fullmatch(annotation), annotation
    assert rfc3339.fullmatch(theirs), theirs
    # ... and kubectl agrees the rollout we waited for is complete.
    status = kubectl(
        local_k8s.kubeconfig,
        "rollout",
        "status",
        "deployment/web",
        "-n",
        NAMESPACE,
        "--timeout=5s",
    )
    assert "successfully rolled out" in status.stdout


def test_scale_a_deployment_and_a_statefulset(platform: KubernetesPlatform) -> None:
    platform.scale("web", 3)
    platform.wait_until_ready("web", timeout=60)
    assert platform.status("web").ready == 3
    platform.scale("kv", 1)
    platform.wait_until_ready("kv", timeout=60)
    assert [r.name for r in platform.replicas("kv") if r.running] == ["kv-0"]
    platform.scale("kv", 2)
    platform.scale("web", 2)
    platform.wait_until_ready("kv", timeout=60)
    platform.wait_until_ready("web", timeout=60)
    assert platform.status("kv").ready == 2


def test_stop_and_its_undo_start_keep_the_count_on_the_workload(
    platform: KubernetesPlatform,
) -> None:
    platform.stop("web")
    workload = platform.read_workload("web")
    assert workload.spec.replicas == 0
    assert workload.metadata.annotations[STOPPED_REPLICAS] == "2"
    # Replayed as a journaled undo would be, by a platform that did not stop it.
    platform.apply_undo(
        UndoAction(
            description="start web",
            platform="kubernetes",
            verb="reconcile",
            args={"component": "web"},
        )
    )
    workload = platform.read_workload("web")
    assert workload.spec.replicas == 2
    assert STOPPED_REPLICAS not in (workload.metadata.annotations or {})
    assert platform.status("web").ready == 2


def test_set_env_rolls_the_pods_and_reset_env_restores_the_deployed_env(
    platform: KubernetesPlatform,
) -> None:
    previous = platform.set_env("web", {"MODE": "fallback", "JWT_SECRET": "s3cr3t-fallback-91"})
    assert previous == {"MODE": "normal", "JWT_SECRET": None}
    platform.wait_until_ready("web", timeout=90)
    assert platform.env("web") == {"MODE": "fallback", "JWT_SECRET": "s3cr3t-fallback-91"}
    # The value set may be a secret: it never shows in a report.
    assert "s3cr3t-fallback-91" not in REDACTOR.redact("env JWT_SECRET=s3cr3t-fallback-91")
    backup = platform._env_backup_name(COMPONENTS["web"])
    assert platform._secret_exists(NAMESPACE, backup)
    platform.apply_undo(
        UndoAction(
            description="reset env",
            platform="kubernetes",
            verb="reset_env",
            args={"component": "web"},
        )
    )
    platform.wait_until_ready("web", timeout=90)
    assert platform.env("web") == {"MODE": "normal"}
    assert not platform._secret_exists(NAMESPACE, backup)


def test_delete_a_secret_and_restore_it_from_its_in_cluster_copy(
    platform: KubernetesPlatform,
) -> None:
    before = platform.read_secret(NAMESPACE, "api-key")
    assert base64.b64decode(before["value"]).decode() == "drill-test-secret-7f3a9c"
    assert "drill-test-secret-7f3a9c" not in REDACTOR.redact("key drill-test-secret-7f3a9c")
    backup = platform.delete_secret(NAMESPACE, "api-key")
    assert backup == "api-key" + SECRET_BACKUP_SUFFIX
    assert not platform._secret_exists(NAMESPACE, "api-key")
    platform.apply_undo(
        UndoAction(
            description="restore",
            platform="kubernetes",
            verb="restore_secret",
            args={"namespace": NAMESPACE, "name": "api-key", "backup": backup},
        )
    )
    assert platform.read_secret(NAMESPACE, "api-key") == before
    assert not platform._secret_exists(NAMESPACE, backup)


def test_events_and_pod_conditions_carry_server_timestamps(platform: KubernetesPlatform) -> None:
    since = time.time() - 3600
    events = platform.events("web", since=since)
    reasons = {e["reason"] for e in events}
    # The ReplicaSet controller and the scheduler reported what the tests above made them do.
    assert "SuccessfulCreate" in reasons
    assert "Scheduled" in reasons
    conditions = platform.pod_conditions("web")
    assert len(conditions) == 2
    for by_type in conditions.values():
        status, since_ready = by_type["Ready"]
        assert status == "True"
        assert since_ready is not None and since_ready > since
