"""Drills at the platform level (simulated pods): what a pod needs to start, a workload whole
again after a fault that killed no pod, the RTO judged on the server's clock, and the checks a
target without an end-to-end probe records as not run.

Pure functions and the companion on a stub platform; tests/k8s runs the same paths against a real
API server and `pytest drills/monthly` on simulated pods.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from drillbook.companions.pod_recovery import PodRecoveryCompanion
from drillbook.config.loader import load_config
from drillbook.core.platform import ComponentStatus, Replica
from drillbook.core.steps import CheckResult, Fault
from drillbook.core.undo import UndoAction
from drillbook.engine.reach import NOT_END_TO_END, end_to_end, reaches_service, service_checks
from drillbook.errors import DataLossDetected, InvalidDrill, ObjectiveBreached
from drillbook.platforms.kubernetes import KillRecord
from drillbook.platforms.pod_config import ConfigRef, missing_refs, required_refs
from drillbook.platforms.pod_replacement import KilledPod, PodSnapshot
from drillbook.platforms.pod_view import PodReadinessView
from drillbook.platforms.rollout_recovery import rollout_recovery
from drillbook.scenarios.workloads.faults import scale_down
from tests.k8s.deploy import REPO
from tests.unit.test_drill_engine import down_between, make_drill

T0 = 1_800_000_000.0
STS = "uid-sts-postgres"

TEMPLATE: dict[str, Any] = {
    "spec": {
        "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "boot"}}]}],
        "containers": [
            {
                "name": "api",
                "env": [
                    {"name": "MODE", "value": "normal"},
                    {
                        "name": "JWT_SECRET",
                        "valueFrom": {"secretKeyRef": {"name": "jwt", "key": "jwt-secret"}},
                    },
                    {
                        "name": "OPTIONAL",
                        "valueFrom": {
                            "secretKeyRef": {"name": "maybe", "key": "k", "optional": True}
                        },
                    },
                    {
                        "name": "SITE",
                        "valueFrom": {"configMapKeyRef": {"name": "site", "key": "site"}},
                    },
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
            }
        ],
        "volumes": [
            {"name": "tls", "secret": {"secretName": "tls"}},
            {"name": "cfg", "configMap": {"name": "files", "items": [{"key": "a.yaml"}]}},
            {"name": "scratch", "emptyDir": {}},
        ],
    }
}


# -- what a pod needs to start --------------------------------------------------------------
def test_every_required_reference_of_a_template_and_none_that_is_optional() -> None:
    assert required_refs(TEMPLATE) == [
        ConfigRef("configmap", "boot"),
        ConfigRef("secret", "jwt", "jwt-secret"),
        ConfigRef("configmap", "site", "site"),
        ConfigRef("secret", "tls"),
        ConfigRef("configmap", "files", "a.yaml"),
    ]


def test_a_missing_secret_or_key_is_named_and_a_complete_namespace_gives_nothing() -> None:
    refs = required_refs(TEMPLATE)
    secrets = {"jwt": {"jwt-secret"}, "tls": {"tls.crt"}}
    configmaps = {"boot": set(), "site": {"site"}, "files": {"a.yaml"}}
    assert missing_refs(refs, secrets, configmaps) == []
    del secrets["jwt"]
    configmaps["files"] = {"b.yaml"}
    assert missing_refs(refs, secrets, configmaps) == [
        "secret jwt does not exist",
        "configmap files has no key a.yaml",
    ]


# -- a workload whole again on pods started since the fault ---------------------------------
def pod(
    name: str, *, created: float, ready_since: float | None, deleting: bool = False
) -> PodSnapshot:
    return PodSnapshot(
        uid=f"uid-{name}",
        name=name,
        namespace="eleanor-v8",
        owner_uid="uid-rs",
        owner="ReplicaSet/app",
        created_at=created,
        ready=ready_since is not None,
        ready_since=ready_since,
        deleting=deleting,
    )


def test_whole_when_the_wanted_number_of_new_pods_is_ready_and_old_pods_do_not_count() -> None:
    pods = [
        pod("old", created=T0 - 600, ready_since=T0 - 598),
        pod("new-1", created=T0, ready_since=T0 + 2),  # the fault's own second counts
        pod("new-2", created=T0 + 1, ready_since=T0 + 4),
        pod("surge", created=T0 + 2, ready_since=T0 + 7),  # beyond the two wanted
    ]
    recovery = rollout_recovery("app", pods, fault_at=T0, desired=2)
    assert recovery.recovered
    assert recovery.ready_seconds == 4.0
    assert recovery.started_since == ("new-1", "new-2", "surge")


def test_not_whole_while_a_new_pod_is_not_ready_or_terminating_or_nothing_is_wanted() -> None:
    pods = [
        pod("new-1", created=T0 + 1, ready_since=T0 + 2),
        pod("new-2", created=T0 + 1, ready_since=None),
        pod("gone", created=T0 + 1, ready_since=T0 + 2, deleting=True),
    ]
    pending = rollout_recovery("app", pods, fault_at=T0, desired=2)
    assert not pending.recovered and pending.ready_seconds is None
    assert pending.ready_since == ("new-1",)
    assert not rollout_recovery("app", pods, fault_at=T0, desired=0).recovered


# -- which checks a target can run ------------------------------------------------------------
def simulated_config() -> Any:
    return load_config(REPO / "configs" / "kwok-local.toml")


def test_simulated_pods_have_no_end_to_end_probe_and_the_embedded_stack_has() -> None:
    assert not end_to_end(simulated_config())
    assert end_to_end(load_config(None))
    assert end_to_end(load_config(REPO / "configs" / "kind.toml"))


def named_check(drill: Any) -> CheckResult:
    return CheckResult("redis answers", True, "PONG")


named_check.check_name = "Redis connectivity"  # type: ignore[attr-defined]


def test_service_checks_run_end_to_end_and_are_recorded_as_not_run_elsewhere(
    tmp_path: Path,
) -> None:
    drill, _, _ = make_drill(tmp_path, down_between(0, 0))
    assert service_checks(drill, named_check) == (named_check,)
    assert reaches_service(drill, "Sentinel names a master")
    assert drill.checks_not_run == {}

    drill, _, _ = make_drill(tmp_path, down_between(0, 0), config=simulated_config())
    assert service_checks(drill, named_check) == ()
    assert not reaches_service(drill, "Sentinel names a master")
    assert drill.checks_not_run == {
        "Redis connectivity": NOT_END_TO_END,
        "Sentinel names a master": NOT_END_TO_END,
    }
    assert drill.figures()["checks_not_run"]["Redis connectivity"].startswith("not run: ")


# -- the platform's /health over every component --------------------------------------------
def status(name: str, ready: int, desired: int = 1) -> ComponentStatus:
    replicas = tuple(
        Replica(name, f"{name}-{i}", None, running=i < ready, state="Running")
        for i in range(desired)
    )
    return ComponentStatus(name, desired, ready, ready, replicas)


def test_the_view_answers_for_every_component_with_what_their_pods_need() -> None:
    ready = {"app": 2, "database": 1}
    missing: dict[str, list[str]] = {"app": [], "database": []}
    view = PodReadinessView(
        lambda n: (status(n, ready[n], 2 if n == "app" else 1), []),
        "primary",
        components=["app", "database"],
        missing=lambda n: missing[n],
    )
    code, body = view.answer("/components")
    assert code == 200
    assert (body["ready"], body["complete"], body["config_complete"]) == (True, True, True)
    assert body["components"]["database"]["missing_config"] == []
    ready["database"] = 0
    code, body = view.answer("/components")
    assert (code, body["ready"], body["complete"]) == (503, False, False)
    ready["database"] = 1
    missing["app"] = ["secret jwt does not exist"]
    code, body = view.answer("/components?probe=1")
    assert (code, body["config_complete"]) == (503, False)
    assert body["components"]["app"]["missing_config"] == ["secret jwt does not exist"]
    assert view.answer("/components/app")[1]["config_complete"] is False


# -- a capacity fault -------------------------------------------------------------------------
class ScalablePlatform:
    name = "kubernetes"

    def __init__(self) -> None:
        self.desired = 2

    def status(self, component: str) -> ComponentStatus:
        return status(component, self.desired, self.desired)

    def scale(self, component: str, replicas: int) -> None:
        self.desired = replicas


def test_a_scale_down_journals_the_count_to_scale_back_to() -> None:
    platform = ScalablePlatform()
    fault = scale_down(platform, "app")  # type: ignore[arg-type]
    assert fault.undo == UndoAction(
        "scale app back to 2 replicas", "kubernetes", "scale", {"component": "app", "replicas": 2}
    )
    assert fault.inject() == {"replicas_before": 2, "replicas": 0}
    assert platform.desired == 0
    with pytest.raises(InvalidDrill, match="cannot scale 'app' down to 0: it wants 0"):
        scale_down(platform, "app")  # type: ignore[arg-type]


# -- the RTO on the server's clock ------------------------------------------------------------
class StubCluster:
    """What the pod-recovery companion reads of the Kubernetes platform, scripted."""

    context = "primary"

    def __init__(self, pods: list[PodSnapshot], *, desired: int = 1) -> None:
        self.kills: list[KillRecord] = []
        self.pods = pods
        self.desired = desired

    def pod_snapshots(self, component: str) -> list[PodSnapshot]:
        return list(self.pods)

    def controller_workloads(self, component: str) -> dict[str, str]:
        return {}

    def desired_replicas(self, component: str) -> int:
        return self.desired

    def server_time(self) -> float:
        return T0

    def events(self, component: str, *, since: float | None = None) -> list[dict[str, Any]]:
        return []


def postgres(uid: str, *, created: float, ready_since: float | None) -> PodSnapshot:
    return PodSnapshot(
        uid=uid,
        name="postgres-0",
        namespace="eleanor-db",
        owner_uid=STS,
        owner="StatefulSet/postgres",
        created_at=created,
        ready=ready_since is not None,
        ready_since=ready_since,
        scheduled_at=created,
    )


def killing_fault(cluster: StubCluster, victim: PodSnapshot) -> Fault:
    def inject() -> dict[str, Any]:
        cluster.kills.append(
            KillRecord(
                "database",
                "eleanor-db",
                "app=postgres",
                (KilledPod(victim, T0),),
                frozenset({victim.uid}),
            )
        )
        return {}

    return Fault(
        "kill-database", "kill postgres-0", inject, UndoAction("r", "kubernetes", "reconcile")
    )


def judged_drill(tmp_path: Path, cluster: StubCluster, *, objective: float) -> Any:
    base = load_config(None)
    strict = dataclasses.replace(
        base, objectives=dataclasses.replace(base.objectives, rto_critical_seconds=objective)
    )
    drill, _, _ = make_drill(tmp_path, down_between(2.0, 3.0), config=strict)
    companion = PodRecoveryCompanion(cluster, wait_seconds=0.0, poll_seconds=0.01)  # type: ignore[arg-type]
    drill.companions = [companion]
    return drill, companion


def test_a_replacement_ready_beyond_the_objective_is_an_rto_breach_not_data_loss(
    tmp_path: Path,
) -> None:
    victim = postgres("uid-old", created=T0 - 600, ready_since=T0 - 590)
    cluster = StubCluster([victim])
    drill, _ = judged_drill(tmp_path, cluster, objective=3.0)
    drill.begin(baseline_seconds=2.0)
    drill.inject(killing_fault(cluster, victim))
    cluster.pods = [postgres("uid-new", created=T0, ready_since=T0 + 5)]
    drill.wait_until_detected()
    drill.wait_until_recovered()  # the probes saw about 1 s: within 3 s
    with pytest.raises(ObjectiveBreached) as breach:
        drill.assert_objectives()
    assert "RTO breach (server time): pod postgres-0 replaced by postgres-0, Ready 5s" in str(
        breach.value
    )
    assert not isinstance(breach.value, DataLossDetected)
    drill.finish()
    figures = drill.figures()["pod_recovery"]
    assert figures["rto_server_seconds"] == 5.0
    assert figures["pods"][0]["how"] == "replaced"


def test_a_replacement_never_ready_is_a_breach_and_one_in_time_is_none(tmp_path: Path) -> None:
    victim = postgres("uid-old", created=T0 - 600, ready_since=T0 - 590)
    cluster = StubCluster([victim])
    drill, companion = judged_drill(tmp_path, cluster, objective=900.0)
    drill.begin(baseline_seconds=2.0)
    drill.inject(killing_fault(cluster, victim))
    cluster.pods = [postgres("uid-new", created=T0, ready_since=None)]
    assert companion.objective_breaches(drill) == [
        "RTO breach (server time): pod postgres-0 killed, no Ready replacement after 0s of "
        "waiting beyond recovery"
    ]
    drill.finish()

    cluster = StubCluster([victim])
    drill, companion = judged_drill(tmp_path / "2", cluster, objective=900.0)
    drill.begin(baseline_seconds=2.0)
    drill.inject(killing_fault(cluster, victim))
    cluster.pods = [postgres("uid-new", created=T0, ready_since=T0 + 2)]
    assert companion.objective_breaches(drill) == []
    drill.finish()


def test_a_fault_that_kills_no_pod_is_timed_from_the_servers_clock_to_the_new_pods(
    tmp_path: Path,
) -> None:
    old = [pod(f"old-{i}", created=T0 - 600, ready_since=T0 - 598) for i in range(2)]
    cluster = StubCluster(old, desired=2)
    drill, companion = judged_drill(tmp_path, cluster, objective=900.0)
    drill.begin(baseline_seconds=2.0)
    drill.inject(
        Fault(
            "delete-secret",
            "delete the JWT Secret",
            lambda: {},
            UndoAction("put it back", "drillbook", "x", {"component": "app"}),
        )
    )
    cluster.pods = [pod(f"new-{i}", created=T0 + 1, ready_since=T0 + 3 + i) for i in range(2)]
    assert companion.objective_breaches(drill) == []
    drill.finish()
    figures = drill.figures()["pod_recovery"]
    assert figures["pods_killed"] == 0
    assert figures["rollout"]["component"] == "app"
    assert figures["rollout"]["ready_seconds"] == 4.0
    assert figures["rto_server_seconds"] == 4.0
