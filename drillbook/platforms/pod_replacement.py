"""Which pod replaced which, and how long it took, from the API server's own timestamps.

Pure functions over snapshots of pods, so that every rule is unit-tested without a cluster:

- A killed pod is paired with a replacement **by owner reference** (the ReplicaSet or
  StatefulSet that controls both), never by the order pods appear in: Krkn pairs by order, so a
  pod of another workload, or a replacement of another victim, can be credited to the wrong pod.
  Within one owner a StatefulSet's replacement keeps the victim's name and is paired by name
  first; the rest are paired oldest victim to oldest replacement (they are interchangeable).
- A victim that is still there with the same UID was restarted in place (a container restart,
  not a new pod): its recovery is its own Ready condition turning True again.
- The figures are spans from the kill, each from server-side timestamps: `scheduled_seconds`
  (the replacement's PodScheduled condition) and `ready_seconds` (its Ready condition). They
  overlap (ready includes scheduled) and are never added up, which is the double count Krkn's
  "total" makes.

Kubernetes serialises these timestamps in whole seconds, so each span has an error bar of 1 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

TIMESTAMP_RESOLUTION_SECONDS = 1.0
"""metav1.Time is serialised to the second: every span below is known to within this."""

RecoveryKind = Literal["replaced", "restarted_in_place", "pending", "not_owned"]


@dataclass(frozen=True)
class PodSnapshot:
    """What the API server says about one pod at one moment (times are Unix seconds)."""

    uid: str
    name: str
    namespace: str
    owner_uid: str | None
    """UID of the controlling ownerReference (ReplicaSet, StatefulSet...), None for a bare pod."""
    owner: str | None
    """The owner as kind/name, for humans."""
    created_at: float
    """metadata.creationTimestamp."""
    ready: bool
    """Condition Ready is True."""
    ready_since: float | None = None
    """lastTransitionTime of the Ready condition, whatever its status."""
    scheduled_at: float | None = None
    """lastTransitionTime of PodScheduled when it is True."""
    deleting: bool = False
    """metadata.deletionTimestamp is set: the pod is terminating."""
    restart_count: int = 0
    """Sum of the containers' restartCount."""
    workload_uid: str | None = None
    """UID of the workload above the controller (a ReplicaSet's Deployment), when known."""


@dataclass(frozen=True)
class KilledPod:
    """A pod a fault killed, as it was just before, and when (server time where known)."""

    pod: PodSnapshot
    killed_at: float
    """Unix time of the kill: the server's deletionTimestamp when it set one."""


@dataclass(frozen=True)
class PodRecovery:
    """How one killed pod came back."""

    victim: str
    victim_uid: str
    owner: str | None
    killed_at: float
    kind: RecoveryKind
    """replaced: a new pod of the same owner is Ready; restarted_in_place: the same pod is
    Ready again; pending: the replacement (or the pod) is not Ready yet; not_owned: a bare pod
    that nothing will replace."""
    replacement: str | None = None
    replacement_uid: str | None = None
    replacement_owner: str | None = None
    """The replacement's controller: the victim's own, or a rollout's new ReplicaSet."""
    scheduled_seconds: float | None = None
    """Kill to the replacement's PodScheduled (replacements only)."""
    ready_seconds: float | None = None
    """Kill to Ready: the pod-level recovery time."""

    @property
    def recovered(self) -> bool:
        return self.kind in ("replaced", "restarted_in_place")


def remember(seen: dict[str, PodSnapshot], observed: Iterable[PodSnapshot]) -> None:
    """Fold one observation of pods into what has been seen of them, by UID.

    The latest live snapshot wins, but a terminating one never hides an earlier live one: a
    replacement that turned Ready and was later removed by a rollout restart still replaced its
    victim, and a pod that vanished keeps its last live state.
    """
    for pod in observed:
        previous = seen.get(pod.uid)
        if previous is not None and pod.deleting and not previous.deleting:
            continue
        seen[pod.uid] = pod


def _span(start: float, end: float | None) -> float | None:
    # Both ends are whole seconds on the server: a replacement Ready within the second of the
    # kill gives 0, never a negative span.
    return None if end is None else max(0.0, end - start)


def match_replacements(
    killed: Sequence[KilledPod],
    now: Iterable[PodSnapshot],
    *,
    existed_before: Iterable[str] = (),
    seen: Iterable[PodSnapshot] = (),
) -> list[PodRecovery]:
    """Pair every killed pod with its replacement among the pods that exist `now`, or that
    were `seen` alive and Ready since the kill (a replacement a rollout has removed again).

    First by controller (the victim's ReplicaSet or StatefulSet; for a StatefulSet the same
    name first), then, for victims left over, by workload (`workload_uid`: the Deployment
    above the ReplicaSets), which is how a rollout restart's new ReplicaSet replaces them.
    `existed_before` are UIDs of pods that were there before the kill (other replicas): never a
    replacement; nor is a killed pod, nor a pod that vanished without ever being Ready (a
    replacement the rollout discarded). Whether a victim was restarted in place is decided by
    `now` alone.
    """
    current = list(now)
    by_uid = {p.uid: p for p in current}
    known: dict[str, PodSnapshot] = {}
    remember(known, seen)
    remember(known, current)
    old = set(existed_before) | {k.pod.uid for k in killed}
    candidates = [
        pod
        for pod in sorted(known.values(), key=lambda p: (p.created_at, p.name))
        if pod.uid not in old
        and pod.owner_uid is not None
        and not pod.deleting
        and (pod.uid in by_uid or pod.ready)
    ]

    results: dict[str, PodRecovery] = {}
    replaced: list[KilledPod] = []
    for victim in killed:
        still_there = by_uid.get(victim.pod.uid)
        if still_there is not None and not still_there.deleting:
            results[victim.pod.uid] = _in_place(victim, still_there)
        elif victim.pod.owner_uid is None:
            results[victim.pod.uid] = PodRecovery(
                victim=victim.pod.name,
                victim_uid=victim.pod.uid,
                owner=None,
                killed_at=victim.killed_at,
                kind="not_owned",
            )
        else:
            replaced.append(victim)

    claimed: set[str] = set()
    leftover: list[KilledPod] = []
    victims = sorted(replaced, key=lambda k: (k.killed_at, k.pod.name))
    # A StatefulSet's replacement has the victim's name: pair those first.
    for victim in victims:
        same = next(
            (
                p
                for p in candidates
                if p.owner_uid == victim.pod.owner_uid
                and p.name == victim.pod.name
                and p.uid not in claimed
            ),
            None,
        )
        if same is not None:
            claimed.add(same.uid)
            results[victim.pod.uid] = _replacement(victim, same)
    for key in ("owner_uid", "workload_uid"):
        leftover = []
        for victim in victims:
            if victim.pod.uid in results:
                continue
            wanted = getattr(victim.pod, key)
            match = next(
                (
                    p
                    for p in candidates
                    if wanted is not None and getattr(p, key) == wanted and p.uid not in claimed
                ),
                None,
            )
            if match is None:
                leftover.append(victim)
                continue
            claimed.add(match.uid)
            results[victim.pod.uid] = _replacement(victim, match)
    for victim in leftover:
        results[victim.pod.uid] = _replacement(victim, None)
    return [results[k.pod.uid] for k in killed]


def with_workloads(
    snapshots: Iterable[PodSnapshot], workload_of: Mapping[str, str]
) -> list[PodSnapshot]:
    """Fill in `workload_uid` from a map of controller UID to the workload above it (a
    ReplicaSet's Deployment); a controller that is itself the workload maps to itself."""
    return [
        replace(pod, workload_uid=workload_of.get(pod.owner_uid, pod.owner_uid))
        if pod.owner_uid is not None
        else pod
        for pod in snapshots
    ]


def _in_place(victim: KilledPod, pod: PodSnapshot) -> PodRecovery:
    # Ready again *after* the kill: its Ready condition last changed at or after the kill.
    ready_again = (
        pod.ready
        and pod.ready_since is not None
        and pod.ready_since >= (victim.killed_at - TIMESTAMP_RESOLUTION_SECONDS)
    )
    restarted = pod.restart_count > victim.pod.restart_count
    recovered = pod.ready and (ready_again or restarted)
    return PodRecovery(
        victim=victim.pod.name,
        victim_uid=victim.pod.uid,
        owner=victim.pod.owner,
        killed_at=victim.killed_at,
        kind="restarted_in_place" if recovered else "pending",
        replacement=pod.name,
        replacement_uid=pod.uid,
        ready_seconds=_span(victim.killed_at, pod.ready_since) if recovered else None,
    )


def _replacement(victim: KilledPod, pod: PodSnapshot | None) -> PodRecovery:
    if pod is None:
        return PodRecovery(
            victim=victim.pod.name,
            victim_uid=victim.pod.uid,
            owner=victim.pod.owner,
            killed_at=victim.killed_at,
            kind="pending",
        )
    return PodRecovery(
        victim=victim.pod.name,
        victim_uid=victim.pod.uid,
        owner=victim.pod.owner,
        killed_at=victim.killed_at,
        kind="replaced" if pod.ready else "pending",
        replacement=pod.name,
        replacement_uid=pod.uid,
        replacement_owner=pod.owner,
        scheduled_seconds=_span(victim.killed_at, pod.scheduled_at),
        ready_seconds=_span(victim.killed_at, pod.ready_since) if pod.ready else None,
    )


def summarize(recoveries: Sequence[PodRecovery]) -> Mapping[str, object]:
    """Figures for a report: counts, the slowest pod, and each pod's spans."""
    ready = [r.ready_seconds for r in recoveries if r.recovered and r.ready_seconds is not None]
    return {
        "pods_killed": len(recoveries),
        "pods_recovered": sum(1 for r in recoveries if r.recovered),
        "pods_pending": [r.victim for r in recoveries if not r.recovered],
        "pod_ready_seconds_max": max(ready) if ready else None,
        "timestamp_resolution_seconds": TIMESTAMP_RESOLUTION_SECONDS,
        "pods": [
            {
                "victim": r.victim,
                "owner": r.owner,
                "how": r.kind,
                "replacement": r.replacement,
                "replacement_owner": r.replacement_owner,
                "scheduled_seconds": r.scheduled_seconds,
                "ready_seconds": r.ready_seconds,
            }
            for r in recoveries
        ],
    }
