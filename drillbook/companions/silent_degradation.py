"""The silent-degradation finding: a dependency was down and nothing the service exposes changed.

When the fault took down a component whose role is a dependency (a database, a cache, a vector
store, a secrets provider: not the app or its proxy), the window from the fault to the first
recovery step (or to the end of the drill when none ran) is compared with the baseline:

- no probe sample unhealthy, health probes and end-to-end calls alike;
- no health field changed from a value it held through the whole baseline (a field that varies
  in the baseline, a timestamp or the replica that answered, says nothing and is ignored);
- no load request failed and no ledger write failed in the window.

Then a dependency the configuration says is present was killed and the service did not say so:
its operators learn of the outage from whatever the dependency was for (stale data, lost cache,
slow pages), not from the service. The window must hold at least [probing] healthy_streak
samples of every probe before it is judged (a drill that ended right after the fault shows
nothing either way).

Not yet covered: the service's metrics (a counter of cache errors would be a change it exposes);
a service that reports the outage only there is reported as silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from drillbook.companions.timeline_watch import TimelineWatch
from drillbook.core.findings import Finding
from drillbook.core.timeline import UNHEALTHY, EventKind, FieldValue, Sample, describe_sample

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

KIND = "silent-degradation"
DEPENDENCY_ROLES: Final = frozenset({"database", "cache", "vector_store", "secrets"})
_ABSENT = object()


@dataclass(frozen=True)
class Window:
    """From the fault to the first recovery step; `end` None: to the end of the drill."""

    start: float
    end: float | None

    def holds(self, at: float) -> bool:
        return at >= self.start and (self.end is None or at < self.end)


def constant_fields(baseline: Sequence[Sample], *, minimum: int) -> dict[str, FieldValue]:
    """The health fields that held one value in every baseline sample; none when fewer than
    `minimum` baseline samples had fields (too few to call anything constant)."""
    documents = [s.fields for s in baseline if s.fields is not None]
    if len(documents) < minimum:
        return {}
    first = documents[0]
    return {
        path: value
        for path, value in first.items()
        if all(path in other and other[path] == value for other in documents[1:])
    }


def first_change(
    samples: Sequence[Sample],
    *,
    window: Window,
    watched: Mapping[str, Mapping[str, FieldValue]],
) -> str | None:
    """What the service exposed about the outage in `window`: its first unhealthy sample or
    health field that left its baseline value (`watched`: per health probe); None: nothing."""
    for sample in samples:
        if not window.holds(sample.sent_at):
            continue
        if sample.status in UNHEALTHY:
            return "unhealthy sample " + describe_sample(sample, fault_at=window.start)
        constants = watched.get(sample.probe, {})
        for path, value in constants.items():
            now = _ABSENT if sample.fields is None else sample.fields.get(path, _ABSENT)
            if now != value:
                shown = "absent" if now is _ABSENT else repr(now)
                return (
                    f"{sample.probe} field {path} {value!r} -> {shown} at "
                    f"+{sample.sent_at - window.start:.3f}s"
                )
    return None


class _Request(Protocol):
    @property
    def sent_at(self) -> float: ...

    @property
    def failed(self) -> bool: ...


@runtime_checkable
class _RecordsRequests(Protocol):
    """The load companion (drillbook.load): every request it sent."""

    def samples(self) -> Sequence[_Request]: ...


class _Write(Protocol):
    @property
    def sent_monotonic(self) -> float: ...


@runtime_checkable
class _KeepsWrites(Protocol):
    """The write ledger (drillbook.ledger): its acknowledged and its failed writes."""

    def snapshot(self) -> tuple[Sequence[_Write], Sequence[_Write], Sequence[str]]: ...


@dataclass(frozen=True)
class Traffic:
    """What users' traffic saw in the window: load requests and ledger writes (None: that
    companion is not part of the drill)."""

    load_requests: int | None = None
    load_errors: int = 0
    ledger_writes: int | None = None
    ledger_failures: int = 0

    def change(self) -> str | None:
        if self.load_errors:
            return f"{self.load_errors} load request(s) failed"
        if self.ledger_failures:
            return f"{self.ledger_failures} ledger write(s) failed"
        return None


def traffic_in(drill: Drill, window: Window) -> Traffic:
    load_requests: int | None = None
    load_errors = 0
    ledger_writes: int | None = None
    ledger_failures = 0
    for companion in drill.companions:
        if companion.name == "load" and isinstance(companion, _RecordsRequests):
            requests = [r for r in companion.samples() if window.holds(r.sent_at)]
            load_requests = len(requests)
            load_errors = sum(1 for r in requests if r.failed)
        elif companion.name == "ledger" and isinstance(companion, _KeepsWrites):
            acknowledged, failed, _ = companion.snapshot()
            ledger_failures = sum(1 for w in failed if window.holds(w.sent_monotonic))
            ledger_writes = ledger_failures + sum(
                1 for w in acknowledged if window.holds(w.sent_monotonic)
            )
    return Traffic(load_requests, load_errors, ledger_writes, ledger_failures)


class SilentDegradationWatch(TimelineWatch):
    """Reports the finding from the drill's timeline and its companions' traffic."""

    name = "silent_degradation"

    def findings(self, drill: Drill) -> list[Finding]:
        fault, fault_at = drill.fault, drill.fault_at
        if fault is None or fault_at is None or not fault.stops:
            return []
        component = drill.config.target.components.get(fault.stops)
        if component is None or component.role not in DEPENDENCY_ROLES:
            return []
        recovery = [
            e.at
            for e in drill.timeline.events
            if e.kind is EventKind.RECOVERY_STARTED and e.at >= fault_at
        ]
        window = Window(fault_at, recovery[0] if recovery else None)
        probes = [p.name for p in drill.config.target.probes]
        probes += [p.name for p in drill.config.target.critical_endpoints]
        samples = [s for s in drill.timeline.samples if s.probe in probes]
        in_window = [s for s in samples if window.holds(s.sent_at)]
        checked = {name: sum(1 for s in in_window if s.probe == name) for name in probes}
        streak = drill.probing.healthy_streak
        watched = {
            probe.name: constant_fields(
                [s for s in samples if s.probe == probe.name and s.sent_at < fault_at],
                minimum=streak,
            )
            for probe in drill.config.target.probes
        }
        traffic = traffic_in(drill, window)
        change = first_change(samples, window=window, watched=watched) or traffic.change()
        self._figures = {"dependency": component.name, "samples_checked": checked}
        if change is not None:
            # Shown however short the window: the runbook of an outage the probes saw starts
            # at once, and what the service exposed is the evidence it was not silent.
            self._figures["exposed"] = change
            return []
        if min(checked.values()) < streak:
            self._figures["exposed"] = None
            self._figures["judged"] = f"no: fewer than {streak} samples of some probe"
            return []
        seen_until = max(s.sent_at for s in in_window)
        down = (window.end if window.end is not None else seen_until) - fault_at
        fields_watched = sum(len(constants) for constants in watched.values())
        load = (
            f", {traffic.load_requests} load requests without an error"
            if traffic.load_requests is not None
            else ""
        )
        return [
            Finding(
                kind=KIND,
                component=component.name,
                summary=(
                    f"{component.name} ({component.role}) was down for {down:.1f}s and nothing "
                    f"the service exposes changed: {len(in_window)} probe samples healthy, "
                    f"{fields_watched} health field(s) kept their baseline values{load}"
                ),
                evidence={
                    "component_down": component.name,
                    "role": component.role,
                    "down_seconds": round(down, 3),
                    "window": (
                        "from the fault to the first recovery step"
                        if window.end is not None
                        else "from the fault to the end of the drill (no recovery step ran)"
                    ),
                    "samples_checked": checked,
                    "fields_watched": watched,
                    "load": (
                        None
                        if traffic.load_requests is None
                        else {"requests": traffic.load_requests, "errors": traffic.load_errors}
                    ),
                    "ledger": (
                        None
                        if traffic.ledger_writes is None
                        else {"writes": traffic.ledger_writes, "failed": traffic.ledger_failures}
                    ),
                    "not_compared": ["metrics"],
                },
            )
        ]


def silent_degradation_companion(
    target: Target, identity: DrillIdentity
) -> SilentDegradationWatch | None:
    """The companion factory: on every target (only a fault on a dependency is judged)."""
    return SilentDegradationWatch()
