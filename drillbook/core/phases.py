"""The three phases every drill's side measurements are split into: before the fault, during
it, and after recovery.

Load figures and cache hit rates are reported per phase, so that "after recovery" can be judged
against the baseline. The boundaries are the fault time and the recovery time the probes
measured; for a fault the service absorbed (no outage), "after" starts with verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, Protocol

from drillbook.core.recovery import RecoveryMeasurement
from drillbook.core.timeline import EventKind, Timeline

Phase = Literal["baseline", "fault", "recovered"]
PHASES: Final[tuple[Phase, ...]] = ("baseline", "fault", "recovered")
PHASE_TITLES: Final[dict[Phase, str]] = {
    "baseline": "baseline",
    "fault": "during the fault",
    "recovered": "after recovery",
}


@dataclass(frozen=True)
class PhaseBounds:
    fault_at: float | None = None
    """Monotonic time of the fault; None: no fault yet, everything is baseline."""
    recovered_at: float | None = None
    """Monotonic time the service counted as recovered; None: not (yet) recovered."""

    def phase_of(self, t: float) -> Phase:
        if self.fault_at is None or t < self.fault_at:
            return "baseline"
        if self.recovered_at is None or t < self.recovered_at:
            return "fault"
        return "recovered"


class PhasedDrill(Protocol):
    """What the phase boundaries are read from (a drill, as far as it has got)."""

    @property
    def timeline(self) -> Timeline: ...

    @property
    def fault_at(self) -> float | None: ...

    @property
    def measurement(self) -> RecoveryMeasurement | None: ...


def drill_phase_bounds(drill: PhasedDrill) -> PhaseBounds:
    """The phase boundaries of a drill as far as it has got."""
    measurement = drill.measurement
    recovered: float | None = None
    if measurement is not None and measurement.outage_observed:
        recovered = measurement.recovered_at
    elif drill.fault_at is not None:
        # No outage (a fault the service absorbed): "after" is what verification looks at.
        verify = [
            e.at
            for e in drill.timeline.events
            if e.kind is EventKind.PHASE_STARTED and e.name == "verify"
        ]
        recovered = verify[0] if verify else None
    return PhaseBounds(fault_at=drill.fault_at, recovered_at=recovered)
