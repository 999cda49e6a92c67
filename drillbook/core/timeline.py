"""The record of one drill: probe samples and events, on the monotonic clock.

Everything a verdict or a report says is derived from this record, so it is the one thing a
drill must keep; it is thread-safe because the prober writes samples from its own thread.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class SampleStatus(StrEnum):
    """How one probe sample is classified."""

    OK = "ok"
    """The probe's status code and every JSON condition matched."""
    DOWN = "down"
    """The target answered, but unhealthy: wrong status code (5xx, ...) or a failed condition."""
    THROTTLED = "throttled"
    """HTTP 429: the target is rate limiting the prober; says nothing about health."""
    ERROR = "error"
    """No answer: connection refused or reset, timeout, unparseable body."""


UNHEALTHY = frozenset({SampleStatus.DOWN, SampleStatus.ERROR})

FieldValue = str | int | float | bool | None
"""A scalar of a health answer's JSON body, as a sample keeps it."""


@dataclass(frozen=True)
class Sample:
    """One probe observation."""

    probe: str
    """Name of the probe (from the configuration)."""
    sent_at: float
    """Monotonic time the request was sent. The sample describes the target somewhere between
    this and `received_at` (drillbook.core.recovery places each kind at the safe end)."""
    received_at: float
    """Monotonic time the answer (or the error) arrived."""
    status: SampleStatus
    http_status: int | None = None
    """The HTTP status code, when there was an answer."""
    detail: str = ""
    """Why the sample is not ok (failed condition, exception), empty when ok."""
    fields: Mapping[str, FieldValue] | None = field(default=None, hash=False)
    """A health probe's JSON body, its scalars by dotted path (`checks.database`), bounded and
    redacted (drillbook.probes.health_fields); None for other probes and for answers that are
    not a JSON object. Findings compare what the service said about itself with what users saw.
    """

    @property
    def latency_seconds(self) -> float:
        return self.received_at - self.sent_at


class EventKind(StrEnum):
    """What happened, as the timeline records it."""

    DRILL_STARTED = "drill_started"
    PHASE_STARTED = "phase_started"
    PHASE_FINISHED = "phase_finished"
    FAULT_INJECTED = "fault_injected"
    DETECTED = "detected"
    RECOVERY_STARTED = "recovery_started"
    RECOVERY_FINISHED = "recovery_finished"
    RECOVERED = "recovered"
    VERIFIED = "verified"
    UNDO = "undo"
    NOTE = "note"
    DRILL_FINISHED = "drill_finished"


@dataclass(frozen=True)
class Event:
    """One thing that happened during a drill."""

    at: float
    """Monotonic time."""
    wall: float
    """Unix time of the same moment, for humans."""
    kind: EventKind
    name: str
    details: Mapping[str, Any] = field(default_factory=dict)


class Timeline:
    """Samples and events of one drill, appended from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._events: list[Event] = []

    def add_sample(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def add_event(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def samples(self) -> list[Sample]:
        """A snapshot, sorted by send time."""
        with self._lock:
            return sorted(self._samples, key=lambda s: s.sent_at)

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return sorted(self._events, key=lambda e: e.at)

    def first_event(self, kind: EventKind) -> Event | None:
        return next((e for e in self.events if e.kind == kind), None)

    def samples_of(self, probe: str) -> list[Sample]:
        return [s for s in self.samples if s.probe == probe]

    def to_json(self, origin: float | None = None) -> str:
        """Events and a per-status sample count; times relative to `origin` when given."""
        base = origin if origin is not None else 0.0
        events = [
            {
                "t": round(e.at - base, 4),
                "wall": e.wall,
                "kind": str(e.kind),
                "name": e.name,
                "details": dict(e.details),
            }
            for e in self.events
        ]
        counts: dict[str, int] = {}
        for s in self.samples:
            counts[str(s.status)] = counts.get(str(s.status), 0) + 1
        return json.dumps({"origin": base, "events": events, "sample_counts": counts}, indent=2)

    def samples_csv(self, origin: float | None = None) -> str:
        base = origin if origin is not None else 0.0
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["probe", "t_sent", "t_received", "status", "http_status", "detail", "fields"]
        )
        for s in self.samples:
            writer.writerow(
                [
                    s.probe,
                    f"{s.sent_at - base:.4f}",
                    f"{s.received_at - base:.4f}",
                    str(s.status),
                    "" if s.http_status is None else s.http_status,
                    s.detail,
                    "" if s.fields is None else json.dumps(dict(s.fields), sort_keys=True),
                ]
            )
        return out.getvalue()


def sample_to_dict(sample: Sample) -> dict[str, Any]:
    return asdict(sample)


def statuses(samples: Sequence[Sample]) -> list[SampleStatus]:
    return [s.status for s in samples]


def describe_sample(sample: Sample, *, fault_at: float) -> str:
    """One sample for a failure message: probe, time after the fault, status, and why."""
    return (
        f"{sample.probe} at +{sample.sent_at - fault_at:.3f}s: {sample.status}"
        + (f" ({sample.detail})" if sample.detail else "")
        + (f" HTTP {sample.http_status}" if sample.http_status is not None else "")
    )


def describe_unhealthy(samples: Sequence[Sample], *, fault_at: float, shown: int = 3) -> str:
    """The unhealthy samples among `samples`, for a failure message: how many, and for the
    first few which probe, when after the fault, and why (a red drill must say what users saw).
    """
    unhealthy = [s for s in samples if s.status in UNHEALTHY]
    listed = "; ".join(describe_sample(s, fault_at=fault_at) for s in unhealthy[:shown])
    more = f" and {len(unhealthy) - shown} more" if len(unhealthy) > shown else ""
    return f"{len(unhealthy)} unhealthy sample(s): {listed}{more}"
