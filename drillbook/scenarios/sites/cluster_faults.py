"""The fault of scenario 6 on two Kubernetes clusters: the primary cluster lost.

`lose_primary_cluster`: every configured component's workload at the primary scaled to 0 and
its pods gone: to users, the whole primary cluster is down (its API server still answers, so
that the drill can put it back). This is the platform-level stand-in for a lost cluster: the
nodes, the volumes and the control plane are not touched.

Its undo is journaled before the fault (drillbook.engine.undo), with the replica counts read
before it: one handler (`restore_replicas`) that runs the platform's own undo verb `scale` for
every component, back to its replicas, then waits until each is Ready again. A runner killed
mid-drill leaves it pending in the primary cluster's journal, and the next run against that
cluster replays it before it injects anything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from drillbook.core.platform import Platform
from drillbook.core.polling import poll_until
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.core.undo_handlers import handler_undo, undo_handler
from drillbook.errors import DrillError, FaultFailed, InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.sites.clusters import PRIMARY, TwoClusters

GONE_TIMEOUT_SECONDS = 60.0
"""How long, at most, the fault waits for the primary's pods to be gone after the scale."""
READY_TIMEOUT_SECONDS = 120.0
"""How long, at most, the undo waits for each component to be Ready again."""
_POLL_SECONDS = 0.2


@undone_by("scale every workload of the primary cluster back to its replicas")
def lose_primary_cluster(
    clusters: TwoClusters, *, gone_timeout: float = GONE_TIMEOUT_SECONDS
) -> Fault:
    """Every component's workload at the primary scaled to 0, and its pods gone."""
    platform = clusters.platform(PRIMARY)
    context = platform.context
    replicas = {
        component: platform.desired_replicas(component) for component in clusters.components
    }
    empty = sorted(component for component, count in replicas.items() if count < 1)
    if empty:
        raise InvalidDrill(
            f"cannot lose the primary cluster '{context}': {', '.join(empty)} already want 0 "
            "replicas there (scale them back first; a pending undo is replayed by the next run)"
        )

    def inject() -> Mapping[str, Any]:
        started = time.monotonic()
        for component in replicas:
            platform.scale(component, 0)
        left = poll_until(
            lambda: {c: pods for c in replicas if (pods := _pod_names(platform, c))},
            lambda remaining: not remaining,
            timeout=gone_timeout,
            interval=_POLL_SECONDS,
            give_up=lambda remaining: FaultFailed(
                f"the primary cluster '{context}' was scaled to 0 but pods are still there "
                f"after {gone_timeout:.0f}s: {remaining}"
            ),
        )
        return {
            "cluster": PRIMARY,
            "context": context,
            "replicas_before": dict(replicas),
            "pods_left": left,
            "gone_after_seconds": round(time.monotonic() - started, 3),
        }

    counts = ", ".join(f"{c} {n}" for c, n in replicas.items())
    return Fault(
        name="primary cluster lost",
        description=f"primary cluster '{context}' lost: every workload scaled to 0 ({counts} "
        "replicas before), its pods gone",
        inject=inject,
        undo=handler_undo(
            f"scale every workload of cluster '{context}' back ({counts}) and wait until Ready",
            restore_replicas,
            context=context,
            replicas=dict(replicas),
        ),
    )


def _pod_names(platform: KubernetesPlatform, component: str) -> list[str]:
    return [str(pod["metadata"]["name"]) for pod in platform.pods(component)]


@undo_handler
def restore_replicas(
    platform: Platform,
    *,
    context: str,
    replicas: dict[str, int],
    timeout: float = READY_TIMEOUT_SECONDS,
) -> None:
    """Undo of `lose_primary_cluster`: each component scaled back to its replicas with the
    platform's `scale` undo verb, then awaited until Ready. Every component is attempted; the
    failures are raised together at the end. Idempotent.

    `platform` is the target's whose journal held the undo: the primary cluster's (the journal
    is kept per context and API server), named by `context` for the messages.
    """
    failures: list[str] = []
    scaled: list[str] = []
    for component, count in replicas.items():
        action = UndoAction(
            description=f"scale {component} back to {count} replicas",
            platform=platform.name,
            verb="scale",
            args={"component": component, "replicas": int(count)},
        )
        try:
            platform.apply_undo(action)
            scaled.append(component)
        except DrillError as exc:
            failures.append(f"{component}: {exc}")
    for component in scaled:
        try:
            platform.wait_until_ready(component, timeout=timeout)
        except DrillError as exc:
            failures.append(f"{component}: {exc}")
    if failures:
        raise FaultFailed(
            f"the primary cluster '{context}' is not back at its replicas: " + "; ".join(failures)
        )
