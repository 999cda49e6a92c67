"""Findings: defects of the drilled service that a drill shows beside its pass or fail.

A drill can pass (the service recovered within its objectives) and still show something its
operators must fix: a replica that ignores SIGTERM and is killed at the end of its grace period,
a health endpoint that says "ok" while a dependency is down. Each is a `Finding`, with the
evidence that shows it; companions that watch for them implement `FindingSource`. A finding is
reported, not judged, unless the configuration's [findings] fail_on names its kind: then the
drill fails on it ("Finding (kind): ...").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

DrillT = TypeVar("DrillT", contravariant=True)

KINDS = {
    "health-blind-spot": (
        "the service's own health endpoint said healthy while the drill's end-to-end checks "
        "failed during a fault"
    ),
    "shutdown-grace": "a replica still running at the end of its grace period (killed)",
    "secret-needs-restart": (
        "a secret rotated in the provider is not taken up (new accepted, old refused) "
        "without a restart"
    ),
    "buffered-writes-lost": (
        "writes the service acknowledged were lost when its own processes were killed "
        "(held in memory, not the database's doing)"
    ),
    "silent-degradation": (
        "a dependency the configuration says is present was down and nothing the service "
        "exposes changed"
    ),
    "no-self-recovery": (
        "a crashed container whose restart policy does not restart it stayed down until the "
        "runbook acted"
    ),
}
"""The finding kinds drillbook reports, and what each means."""


@dataclass(frozen=True)
class Finding:
    kind: str
    component: str
    summary: str
    """One line: what was seen, with the figure that shows it."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """The values seen (JSON values): samples, times, signals."""

    def describe(self) -> str:
        return f"Finding ({self.kind}) at {self.component}: {self.summary}"


@runtime_checkable
class FindingSource(Protocol[DrillT]):
    """A companion that reports findings about the drilled service."""

    def findings(self, drill: DrillT) -> list[Finding]: ...
