"""The health-blind-spot finding: the service called itself healthy while its users' calls failed.

The background prober samples the health probes ([[target.probes]]) and the end-to-end calls
([[target.critical_endpoints]]) on the same ticks. During a fault (from the fault to recovery,
or to the end of the drill when the service never recovered) every failed end-to-end sample is
paired with each health probe's sample nearest in time, within one probe interval; it is
"blind" when every health probe said ok beside it. Orchestrators, load balancers and alerting
act on the health endpoint, so one that stays healthy while a dependency is down keeps a broken
replica in rotation and pages no one. The finding names the component the fault took down and
shows, for the blind samples, what the health endpoint answered (status codes, and the field
configured to name the component: [target.components.<name>] health_field).

An honest service is never reported: at the edge of an outage a health sample sent a few
milliseconds before the failure can be ok beside an end-to-end call that already failed (and
at the end of it the other way round), so the finding needs [findings] blind_spot_min_samples
blind samples *and* at least half of the failed end-to-end samples to be blind; an edge race
gives one or two, a blind health check gives nearly all.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drillbook.companions.timeline_watch import TimelineWatch
from drillbook.core.findings import Finding
from drillbook.core.redaction import REDACTOR
from drillbook.core.timeline import UNHEALTHY, FieldValue, Sample, SampleStatus, describe_sample
from drillbook.errors import ConfigError

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

KIND = "health-blind-spot"
FAILURES_SHOWN = 3
ABSENT = "(absent)"
"""What the evidence shows for a configured health field the answer did not have."""


@dataclass(frozen=True)
class BlindSample:
    """A failed end-to-end sample and the ok health samples beside it."""

    failed: Sample
    health: tuple[Sample, ...]


@dataclass(frozen=True)
class BlindSpot:
    """The end-to-end failures of a fault window and those the health probes did not see."""

    failed: tuple[Sample, ...]
    """Every unhealthy end-to-end sample in the window."""
    blind: tuple[BlindSample, ...]

    @property
    def share(self) -> float:
        return len(self.blind) / len(self.failed) if self.failed else 0.0

    def raises(self, min_samples: int) -> bool:
        # At least half, not merely `min_samples`: the edge race of an honest service (see the
        # module docstring) must never raise it, however long the outage.
        return len(self.blind) >= min_samples and 2 * len(self.blind) >= len(self.failed)


class _Nearest:
    """One health probe's samples, searchable by send time."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self._samples = sorted(samples, key=lambda s: s.sent_at)
        self._times = [s.sent_at for s in self._samples]

    def within(self, at: float, interval: float) -> Sample | None:
        index = bisect.bisect_left(self._times, at)
        candidates = self._samples[max(0, index - 1) : index + 1]
        nearest = min(candidates, key=lambda s: abs(s.sent_at - at), default=None)
        if nearest is None or abs(nearest.sent_at - at) > interval:
            return None
        return nearest


REFUSALS = frozenset({401, 403})
"""Answers that refuse the caller, not fail the service: during a secret's rotation a token
signed with the newer secret is refused until the service takes it up, and no health endpoint
can know about the caller's token. They are not an outage a health check should see."""

_DEPENDENCY_ROLES = frozenset({"database", "cache", "vector_store", "secrets"})


def find_blind_spot(
    samples: Sequence[Sample],
    *,
    health_probes: Sequence[str],
    end_to_end_probes: Sequence[str],
    start: float,
    end: float | None,
    interval: float,
) -> BlindSpot:
    """The failed end-to-end samples sent in [start, end] (end None: no end), and those beside
    which every health probe's nearest sample (within `interval`) was ok."""
    nearest = [_Nearest([s for s in samples if s.probe == name]) for name in health_probes]
    failed = tuple(
        s
        for s in samples
        if s.probe in end_to_end_probes
        and s.status in UNHEALTHY
        and s.http_status not in REFUSALS
        and s.sent_at >= start
        and (end is None or s.sent_at <= end)
    )
    blind: list[BlindSample] = []
    for sample in failed:
        beside = [probe.within(sample.sent_at, interval) for probe in nearest]
        paired = [s for s in beside if s is not None]
        # Every health probe must have answered ok beside the failure: one that said nothing
        # (its request still hanging) did not call the service healthy.
        if (
            beside
            and len(paired) == len(beside)
            and all(s.status is SampleStatus.OK for s in paired)
        ):
            blind.append(BlindSample(sample, tuple(paired)))
    return BlindSpot(failed, tuple(blind))


def field_values(blind: Sequence[BlindSample], path: str) -> list[FieldValue]:
    """The distinct values the health answers beside the blind samples gave `path`, in the
    order first seen (ABSENT for an answer without it)."""
    seen: list[FieldValue] = []
    for item in blind:
        for health in item.health:
            fields = health.fields or {}
            value = fields.get(path, ABSENT)
            if value not in seen:
                seen.append(value)
    return seen


class HealthBlindSpotWatch(TimelineWatch):
    """Reports the finding from the drill's own timeline; it runs nothing of its own."""

    name = "health_blind_spot"

    def findings(self, drill: Drill) -> list[Finding]:
        if drill.fault_at is None:
            return []
        # The finding is about a dependency that was down and a health endpoint that did not
        # say so; the service's own replicas down (or a secret rotated) is not that question.
        if _role_of(drill, _component_down(drill)) not in _DEPENDENCY_ROLES:
            return []
        config = drill.config
        health_probes = [p.name for p in config.target.probes]
        end_to_end = [p.name for p in config.target.critical_endpoints]
        if not end_to_end:
            return []
        measurement = drill.measurement
        end = measurement.recovered_at if measurement is not None else None
        spot = find_blind_spot(
            drill.timeline.samples,
            health_probes=health_probes,
            end_to_end_probes=end_to_end,
            start=drill.fault_at,
            end=end,
            interval=config.probing.interval_seconds,
        )
        self._figures = {
            "failed_end_to_end_samples": len(spot.failed),
            "blind_samples": len(spot.blind),
        }
        if not spot.raises(config.findings.blind_spot_min_samples):
            return []
        component = _component_down(drill)
        return [_finding(drill, spot, component, drill.fault_at, end)]


def _role_of(drill: Drill, component: str) -> str | None:
    configured = drill.config.target.components.get(component)
    return None if configured is None else str(configured.role)


def _component_down(drill: Drill) -> str:
    """The component the fault took down, else the one the drill is about (its marker's)."""
    if drill.fault is not None and drill.fault.stops:
        return drill.fault.stops
    named = drill.identity.component
    try:
        return drill.config.component(named).name
    except ConfigError:
        return named or drill.identity.scenario


def _finding(
    drill: Drill, spot: BlindSpot, component: str, fault_at: float, end: float | None
) -> Finding:
    codes = sorted({h.http_status for b in spot.blind for h in b.health if h.http_status})
    configured = drill.config.target.components.get(component)
    path = configured.health_field if configured is not None else None
    values = field_values(spot.blind, path) if path else []
    said = f"HTTP {', '.join(str(c) for c in codes) or 'ok'}"
    if path:
        said += ", " + ", ".join(f"{path} {_show(v)}" for v in values)
    first, last = spot.blind[0].failed.sent_at, spot.blind[-1].failed.sent_at
    evidence: dict[str, Any] = {
        "component_down": component,
        "blind_samples": len(spot.blind),
        "failed_end_to_end_samples": len(spot.failed),
        "blind_share": round(spot.share, 3),
        "first_blind_after_fault_seconds": round(first - fault_at, 3),
        "last_blind_after_fault_seconds": round(last - fault_at, 3),
        "window_after_fault_seconds": None if end is None else round(end - fault_at, 3),
        "health_status_codes": codes,
        "end_to_end_failures": [
            REDACTOR.redact(describe_sample(b.failed, fault_at=fault_at))
            for b in spot.blind[:FAILURES_SHOWN]
        ],
    }
    if path:
        evidence["health_field"] = {"path": path, "values": values}
    return Finding(
        kind=KIND,
        component=component,
        summary=(
            f"{len(spot.blind)} of {len(spot.failed)} failed end-to-end samples while "
            f"{component} was down had a healthy health answer beside them ({said}): the "
            f"health endpoint does not see {component}"
        ),
        evidence=evidence,
    )


def _show(value: FieldValue) -> str:
    return ABSENT if value == ABSENT else json.dumps(value)


def health_blind_spot_companion(
    target: Target, identity: DrillIdentity
) -> HealthBlindSpotWatch | None:
    """The companion factory: wherever there is an end-to-end call to compare with."""
    if not target.config.target.critical_endpoints:
        return None
    return HealthBlindSpotWatch()
