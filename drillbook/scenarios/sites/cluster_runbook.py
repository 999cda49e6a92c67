"""The plan's Option A for scenario 6 on two Kubernetes clusters: fail over to the DR cluster.

    kubectl config use-context dr-cluster
    kubectl apply -f k8s/dr/
    kubectl get pods -n eleanor-v8

as steps: `activate_dr_cluster` (every component at the DR cluster at its desired replicas, and
Ready: what `kubectl apply -f k8s/dr/` and the wait for its rollouts give), `switch_users_to`
(the DNS name or global load balancer users reach sent to the DR cluster: here the users' view,
drillbook.sites.clusters), and the plan's `kubectl get pods` as a verification item,
`every_component_ready_at`.

The DR cluster is left active after the drill, as after a real failover; the undo of the fault
brings the primary's workloads back, and the next drill starts from the primary again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.core.steps import Check, CheckResult, RecoveryStep, checklist_item
from drillbook.errors import DrillError
from drillbook.sites.clusters import DR, TwoClusters

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

READY_TIMEOUT_SECONDS = 120.0
"""How long, at most, each component at the DR cluster is waited for."""


def activate_dr_cluster(
    clusters: TwoClusters, *, ready_timeout: float = READY_TIMEOUT_SECONDS
) -> RecoveryStep:
    """`kubectl config use-context <dr> && kubectl apply -f k8s/dr/`, then the wait for every
    rollout: each component at the DR cluster at its desired replicas (what k8s/dr declares:
    the workload's own count; a workload kept at 0, a cold DR cluster, gets the primary's count
    from before the loss) and Ready, timed."""
    context = clusters.context(DR)

    def run() -> Mapping[str, Any]:
        platform = clusters.platform(DR)
        started = time.monotonic()
        replicas: dict[str, int] = {}
        scaled: dict[str, list[int]] = {}
        for component in clusters.components:
            desired = platform.desired_replicas(component)
            wanted = desired if desired > 0 else clusters.primary_replicas.get(component, 1)
            if wanted != desired:
                platform.scale(component, wanted)
                scaled[component] = [desired, wanted]
            replicas[component] = wanted
        ready_after: dict[str, float] = {}
        for component in clusters.components:
            platform.wait_until_ready(component, timeout=ready_timeout)
            ready_after[component] = round(time.monotonic() - started, 3)
        return {
            "context": context,
            "replicas": replicas,
            "scaled": scaled,
            "ready_after_seconds": ready_after,
            "activated_after_seconds": round(time.monotonic() - started, 3),
        }

    return RecoveryStep(
        name=f"activate the DR cluster ({context})",
        command=f"kubectl config use-context {context} && kubectl apply -f k8s/dr/",
        run=run,
    )


def switch_users_to(clusters: TwoClusters, cluster: str) -> RecoveryStep:
    """Send users to `cluster`: the DNS name (or global load balancer) users reach, switched."""
    context = clusters.context(cluster)

    def run() -> Mapping[str, Any]:
        previous = clusters.active
        seconds = clusters.switch_to(cluster)
        return {
            "from": previous,
            "active": cluster,
            "context": context,
            "switch_seconds": round(seconds, 6),
        }

    return RecoveryStep(
        name=f"switch users to the {cluster} cluster ({context})",
        command=f"# DNS / global load balancer: eleanor.example -> {context}",
        run=run,
    )


def fail_over_to_dr_cluster(
    clusters: TwoClusters, *, ready_timeout: float = READY_TIMEOUT_SECONDS
) -> list[RecoveryStep]:
    """Option A as steps: activate the DR cluster, then send users there."""
    return [
        activate_dr_cluster(clusters, ready_timeout=ready_timeout),
        switch_users_to(clusters, DR),
    ]


def every_component_ready_at(clusters: TwoClusters, cluster: str) -> Check:
    """The plan's `kubectl get pods` after the failover: at `cluster`, every component has
    every desired replica Ready (and at least one), nothing its pods need to start is missing,
    and users are sent there."""
    context = clusters.context(cluster)
    title = f"every component ready at the {cluster} cluster"

    @checklist_item(title)
    def check(drill: Drill) -> CheckResult:
        platform = clusters.platform(cluster)
        figures: dict[str, Any] = {"context": context, "active": clusters.active}
        problems: list[str] = []
        for component in clusters.components:
            try:
                status = platform.status(component)
                missing = platform.missing_config(component)
            except DrillError as exc:
                problems.append(f"{component}: {exc}")
                continue
            figures[component] = {
                "ready": status.ready,
                "desired": status.desired,
                "missing_config": missing,
            }
            if status.desired < 1 or not status.healthy:
                problems.append(f"{component}: {status.ready}/{status.desired} ready")
            if missing:
                problems.append(f"{component}: missing {', '.join(missing)}")
        if clusters.active != cluster:
            problems.append(f"users are sent to the {clusters.active} cluster")
        if problems:
            return CheckResult(title, False, f"at {context}: " + "; ".join(problems), figures)
        return CheckResult(
            title,
            True,
            f"{len(clusters.components)} components ready at {context}; users are sent there",
            figures,
        )

    return check
