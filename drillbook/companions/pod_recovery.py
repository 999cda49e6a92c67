"""The pod-recovery companion: how every pod a drill killed came back, in server time.

Beside each drill on the Kubernetes platform. From the first kill on, it watches the pods of the
killed component (a bounded poll): replacements can come and go during the drill (a rollout
restart removes the ReplicaSet's replacements once the new pods are Ready), so what was seen is
remembered (drillbook.platforms.pod_replacement.remember). When the drill finishes it waits,
bounded, for replacements still pending, matches each killed pod to its replacement by owner
reference and reports, from the API server's timestamps, when it was scheduled and Ready. The
namespace's events during the drill are attached as evidence.

A fault that kills no pod (a deleted Secret, a scale-down) is timed on the server's clock too:
the companion reads the API server's time just before the fault is injected, and reports when
the affected workload was whole again on pods started since (drillbook.platforms.
rollout_recovery).

It also judges the RTO in server time (`objective_breaches`, called by
`Drill.assert_objectives`): every killed pod replaced and Ready, and the workload whole again,
within the drill's tier objective; a replacement still pending is a breach.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.core.companions import Attachment
from drillbook.core.polling import poll_until
from drillbook.errors import DrillError
from drillbook.platforms.kubernetes import KillRecord, KubernetesPlatform
from drillbook.platforms.pod_replacement import (
    KilledPod,
    PodRecovery,
    PodSnapshot,
    match_replacements,
    remember,
    summarize,
    with_workloads,
)
from drillbook.platforms.rollout_recovery import (
    RolloutRecovery,
    rollout_recovery,
    summarize_rollout,
)

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

REPLACEMENT_WAIT_SECONDS = 60.0
"""How long, at most, the companion waits at the end of a drill for replacements to be Ready."""
POLL_SECONDS = 0.5
"""How often the killed components' pods are listed. Timing comes from the server's
timestamps; the poll only has to see each replacement once while it lives."""
MAX_POLLS = 20_000
"""A bound on the watcher, whatever the drill does (over an hour at POLL_SECONDS)."""


class PodRecoveryCompanion:
    name = "pod_recovery"

    def __init__(
        self,
        platform: KubernetesPlatform,
        *,
        wait_seconds: float = REPLACEMENT_WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._platform = platform
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._first_kill = 0
        self._started_wall = 0.0
        self._seen: dict[str, PodSnapshot] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recoveries: list[PodRecovery] = []
        self._rollout: RolloutRecovery | None = None
        self._fault_server_at: float | None = None
        self._fault_component: str | None = None
        self._settled = False
        self._events: list[dict[str, Any]] = []
        self._error: str | None = None

    # -- the companion protocol ------------------------------------------------------------
    def start(self, drill: Drill) -> None:
        self._first_kill = len(self._platform.kills)
        self._started_wall = time.time()
        # Told of the phases, to read the server's clock just before the fault.
        drill.observers.add(_FaultClock(self))
        self._thread = threading.Thread(
            target=self._watch, name="drillbook-pod-recovery", daemon=True
        )
        self._thread.start()

    def stop(self, drill: Drill) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._settle()
        components = list(dict.fromkeys(k.component for k in self._kills()))
        if not components and self._rollout is not None:
            components = [self._rollout.component]
        try:
            for component in components:
                self._events += self._platform.events(component, since=self._started_wall)
        except DrillError as exc:  # evidence, not a verdict: report the gap
            self._error = self._error or str(exc)

    def objective_breaches(self, drill: Drill) -> list[str]:
        """The RTO in server time against the drill's tier: each killed pod replaced and
        Ready, and a rolled workload whole again, within the objective."""
        self._settle()
        allowed = drill.config.objectives.rto_for(drill.identity.tier)
        objective = f"the {drill.identity.tier} objective of {allowed:.0f}s"
        breaches: list[str] = []
        for pod in self._recoveries:
            if pod.kind == "pending":
                breaches.append(
                    f"RTO breach (server time): pod {pod.victim} killed, no Ready replacement "
                    f"after {self._wait_seconds:.0f}s of waiting beyond recovery"
                )
            elif pod.ready_seconds is not None and pod.ready_seconds > allowed:
                breaches.append(
                    f"RTO breach (server time): pod {pod.victim} replaced by {pod.replacement}, "
                    f"Ready {pod.ready_seconds:.0f}s after the kill, beyond {objective}"
                )
        rollout = self._rollout
        if rollout is not None and rollout.started_since and not rollout.recovered:
            breaches.append(
                f"RTO breach (server time): {rollout.component} not whole again: "
                f"{len(rollout.ready_since)} of {rollout.desired} pods started since the fault "
                "are Ready"
            )
        elif rollout is not None and (rollout.ready_seconds or 0.0) > allowed:
            breaches.append(
                f"RTO breach (server time): {rollout.component} whole again "
                f"{rollout.ready_seconds:.0f}s after the fault, beyond {objective}"
            )
        return breaches

    def figures(self) -> Mapping[str, Any]:
        if self._error is not None:
            return {"error": self._error}
        figures: dict[str, Any] = {"context": self._platform.context}
        figures.update(summarize(self._recoveries) if self._recoveries else {"pods_killed": 0})
        if self._rollout is not None:
            figures["rollout"] = summarize_rollout(self._rollout)
        spans = [r.ready_seconds for r in self._recoveries if r.ready_seconds is not None]
        if self._rollout is not None and self._rollout.ready_seconds is not None:
            spans.append(self._rollout.ready_seconds)
        # The platform-level RTO: fault to the last pod it needed Ready, in server time.
        figures["rto_server_seconds"] = max(spans) if spans else None
        return figures

    def fault_starting(self) -> None:
        """Just before the fault: the server's clock, for a fault that leaves no timestamp."""
        try:
            self._fault_server_at = self._platform.server_time()
        except DrillError:
            self._fault_server_at = None  # a fault without a kill then goes untimed

    def fault_injected(self, component: str | None) -> None:
        self._fault_component = component

    def attachments(self) -> list[Attachment]:
        if not self._recoveries and not self._events and self._rollout is None:
            return []
        result = [
            Attachment(
                "pod-recovery.json",
                json.dumps(self.figures(), indent=2, default=str),
                "application/json",
            )
        ]
        if self._events:
            lines = [
                f"{e['at']:.0f} {e['type']} {e['reason']} {e['object']}: {e['message']}"
                for e in self._events
            ]
            result.append(Attachment("kubernetes-events.txt", "\n".join(lines)))
        return result

    # -- watching --------------------------------------------------------------------------
    def _kills(self) -> list[KillRecord]:
        return self._platform.kills[self._first_kill :]

    def _settle(self) -> None:
        """Wait (bounded) for what the fault took to come back, once; the figures and the
        verdict both read the result."""
        if self._settled:
            return
        self._settled = True
        try:
            kills = self._kills()
            if kills:
                self._recoveries = self._await_recoveries(kills)
            elif self._fault_server_at is not None and self._fault_component is not None:
                self._rollout = self._await_rollout(self._fault_component, self._fault_server_at)
        except DrillError as exc:  # evidence, not a verdict: report the gap
            self._error = str(exc)

    def _await_rollout(self, component: str, fault_at: float) -> RolloutRecovery:
        return poll_until(
            lambda: rollout_recovery(
                component,
                self._platform.pod_snapshots(component),
                fault_at=fault_at,
                desired=self._platform.desired_replicas(component),
            ),
            # Nothing started since the fault: nothing rolls, nothing to wait for.
            lambda recovery: recovery.recovered or not recovery.started_since,
            timeout=self._wait_seconds,
            interval=self._poll_seconds,
        )

    def _observe(self, components: list[str]) -> None:
        for component in components:
            snapshots = self._platform.pod_snapshots(component)
            with self._lock:
                remember(self._seen, snapshots)

    def _watch(self) -> None:
        for _ in range(MAX_POLLS):
            if self._stop.wait(self._poll_seconds):
                return
            components = list(dict.fromkeys(k.component for k in self._kills()))
            if not components:
                continue
            try:
                self._observe(components)
            except DrillError:
                continue  # a missed look; the final one at stop() decides

    def _workloads(self, components: list[str]) -> dict[str, str]:
        workloads: dict[str, str] = {}
        for component in components:
            try:
                workloads.update(self._platform.controller_workloads(component))
            except DrillError:  # e.g. no RBAC to list ReplicaSets: match by controller only
                continue
        return workloads

    def _await_recoveries(self, kills: list[KillRecord]) -> list[PodRecovery]:
        components = list(dict.fromkeys(k.component for k in kills))
        before = frozenset().union(*(k.existed_before for k in kills))

        def look() -> list[PodRecovery]:
            workloads = self._workloads(components)
            killed = [
                KilledPod(pod, k.killed_at)
                for record in kills
                for k in record.killed
                for pod in with_workloads([k.pod], workloads)
            ]
            now = [pod for c in components for pod in self._platform.pod_snapshots(c)]
            with self._lock:
                remember(self._seen, now)
                seen = with_workloads(self._seen.values(), workloads)
            return match_replacements(
                killed, with_workloads(now, workloads), existed_before=before, seen=seen
            )

        return poll_until(
            look,
            lambda recoveries: all(r.recovered or r.kind == "not_owned" for r in recoveries),
            timeout=self._wait_seconds,
            interval=self._poll_seconds,
        )


class _FaultClock:
    """A drill observer telling the companion when the fault is injected, and into what (the
    component its undo names)."""

    def __init__(self, companion: PodRecoveryCompanion) -> None:
        self._companion = companion

    def phase_started(self, drill: Drill, phase: str, title: str) -> None:
        if phase == "inject":
            self._companion.fault_starting()

    def phase_finished(self, drill: Drill, phase: str, error: BaseException | None) -> None:
        if phase == "inject" and drill.fault is not None:
            component = drill.fault.undo.args.get("component")
            self._companion.fault_injected(component if isinstance(component, str) else None)

    def drill_finished(self, drill: Drill) -> None:
        return None


def pod_recovery_companion(target: Target, identity: DrillIdentity) -> PodRecoveryCompanion | None:
    """The companion factory: only drills on the Kubernetes platform get one."""
    if isinstance(target.platform, KubernetesPlatform):
        return PodRecoveryCompanion(target.platform)
    return None
