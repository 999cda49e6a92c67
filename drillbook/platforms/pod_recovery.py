"""The pod-recovery companion: how every pod a drill killed came back, in server time.

Beside each drill on the Kubernetes platform. From the first kill on, it watches the pods of the
killed component (a bounded poll): replacements can come and go during the drill (a rollout
restart removes the ReplicaSet's replacements once the new pods are Ready), so what was seen is
remembered (drillbook.platforms.pod_replacement.remember). When the drill finishes it waits,
bounded, for replacements still pending, matches each killed pod to its replacement by owner
reference and reports, from the API server's timestamps, when it was scheduled and Ready. The
namespace's events during the drill are attached as evidence.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.engine.companions import Attachment
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
        self._events: list[dict[str, Any]] = []
        self._error: str | None = None

    # -- the companion protocol ------------------------------------------------------------
    def start(self, drill: Drill) -> None:
        self._first_kill = len(self._platform.kills)
        self._started_wall = time.time()
        self._thread = threading.Thread(
            target=self._watch, name="drillbook-pod-recovery", daemon=True
        )
        self._thread.start()

    def stop(self, drill: Drill) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        kills = self._kills()
        if not kills:
            return
        try:
            self._recoveries = self._await_recoveries(kills)
            for component in dict.fromkeys(k.component for k in kills):
                self._events += self._platform.events(component, since=self._started_wall)
        except DrillError as exc:  # evidence, not a verdict: report the gap
            self._error = str(exc)

    def figures(self) -> Mapping[str, Any]:
        if self._error is not None:
            return {"error": self._error}
        if not self._recoveries:
            return {"pods_killed": 0}
        return {"context": self._platform.context, **summarize(self._recoveries)}

    def attachments(self) -> list[Attachment]:
        if not self._recoveries and not self._events:
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
        deadline = time.monotonic() + self._wait_seconds
        while True:
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
            recoveries = match_replacements(
                killed, with_workloads(now, workloads), existed_before=before, seen=seen
            )
            settled = all(r.recovered or r.kind == "not_owned" for r in recoveries)
            if settled or time.monotonic() >= deadline:
                return recoveries
            time.sleep(self._poll_seconds)


def pod_recovery_companion(target: Target, identity: DrillIdentity) -> PodRecoveryCompanion | None:
    """The companion factory: only drills on the Kubernetes platform get one."""
    if isinstance(target.platform, KubernetesPlatform):
        return PodRecoveryCompanion(target.platform)
    return None
