"""The buffered-writes-lost finding: acknowledged writes lost with the service's own processes.

The write ledger (drillbook.ledger.writer, the "ledger" companion) reads back after recovery
which acknowledged writes are missing; this companion says what lost them, from the drill's
fault. A fault that took down only the service's own processes (a component of role "app")
cannot have touched the database: a write the service acknowledged before the kill and that is
missing after recovery was held in the service's memory when it was acknowledged, an
acknowledgement the service could not keep. That is the finding, with its evidence: how many,
which, how long before the kill they were acknowledged, the kill itself. A fault that took
down or damaged the database loses the database's writes: counted under "database", no finding.

The figure `lost_by_cause` separates the two in the report; it is empty when nothing was lost.
Writes acknowledged after the fault and missing at the read-back are counted apart, under
"acknowledged after the fault": the fault cannot have lost them (a service that stores its
writes late has not stored them yet when the ledger reads back).

Times are CLOCK_MONOTONIC of the test process: the ledger's acknowledgement times and the
drill's fault time are taken on the same clock (drillbook.ledger.checker).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from drillbook.config.model import Component
from drillbook.core.companions import Attachment
from drillbook.core.findings import Finding
from drillbook.core.steps import Fault
from drillbook.core.timeline import EventKind, Timeline

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

KIND = "buffered-writes-lost"
SERVICE_KILLED = "service processes killed"
DATABASE = "database"
AFTER_THE_FAULT = "acknowledged after the fault"
NO_FAULT = "no fault injected"
FIRST_LOST_SHOWN = 20
_LEDGER = "ledger"


class LostWrite(Protocol):
    """One acknowledged write the ledger's read-back did not find."""

    @property
    def trace_id(self) -> str: ...

    @property
    def ack_monotonic(self) -> float:
        """When its acknowledgement arrived (CLOCK_MONOTONIC)."""
        ...


@runtime_checkable
class LostWritesSource(Protocol):
    """The ledger as this companion reads it (drillbook.ledger.writer.LedgerWriter)."""

    def lost_writes(self) -> Sequence[LostWrite]: ...


@dataclass(frozen=True)
class FaultSeen:
    """The drill's fault as its timeline recorded it."""

    name: str
    component: Component | None
    """The component the fault took down or damaged, when the configuration names it."""
    at: float
    """The fault time (`Drill.fault_at`), taken just before the injection began."""
    done_at: float
    """When the injection returned: every process it killed was dead by then."""
    wall: float | None
    """Unix time of `at`, from the timeline's FAULT_INJECTED event (None if it failed)."""
    details: Mapping[str, Any]
    """What the injection returned (kill_replicas: the replicas killed and their pids)."""


def fault_component(fault: Fault, components: Mapping[str, Component]) -> Component | None:
    """The component `fault` took down (`Fault.stops`) or, for a fault that damages data and
    leaves `stops` unset, the component its name is about."""
    if fault.stops is not None:
        return components.get(fault.stops)
    # Faults are named verb-component[-what] (damage-database-data-file): the longest component
    # name found between dashes is the one damaged.
    padded = f"-{fault.name}-"
    named = [c for name, c in components.items() if f"-{name}-" in padded]
    return max(named, key=lambda c: len(c.name)) if named else None


def fault_seen(
    timeline: Timeline, fault: Fault, fault_at: float, components: Mapping[str, Component]
) -> FaultSeen:
    """The fault's times and details from `timeline` (as Drill.inject records them)."""
    events = timeline.events
    injected = next(
        (e for e in events if e.kind is EventKind.FAULT_INJECTED and e.name == fault.name), None
    )
    done_at = next(
        (
            e.at
            for e in events
            if e.kind is EventKind.PHASE_FINISHED and e.name == "inject" and e.at >= fault_at
        ),
        fault_at,
    )
    return FaultSeen(
        name=fault.name,
        component=fault_component(fault, components),
        at=fault_at,
        done_at=done_at,
        wall=injected.wall if injected is not None else None,
        details=dict(injected.details) if injected is not None else {},
    )


def cause_of(seen: FaultSeen | None) -> str:
    """What lost the writes acknowledged before the fault: the fault's component, by role."""
    if seen is None:
        return NO_FAULT
    if seen.component is None:
        return f"fault {seen.name}"
    if seen.component.role == "app":
        return SERVICE_KILLED
    return seen.component.role


def lost_to_the_fault(lost: Sequence[LostWrite], seen: FaultSeen) -> list[LostWrite]:
    """The lost writes acknowledged before the injection returned. A write acknowledged between
    the fault time and then was answered by a replica not yet dead, so the kill can have lost
    it too."""
    return [write for write in lost if write.ack_monotonic <= seen.done_at]


def lost_by_cause(lost: Sequence[LostWrite], seen: FaultSeen | None) -> dict[str, int]:
    """How many lost writes each cause accounts for (empty when nothing was lost)."""
    if seen is None:
        return {NO_FAULT: len(lost)} if lost else {}
    before = len(lost_to_the_fault(lost, seen))
    counts = {cause_of(seen): before, AFTER_THE_FAULT: len(lost) - before}
    return {cause: count for cause, count in counts.items() if count}


def buffered_writes_finding(
    lost: Sequence[LostWrite], seen: FaultSeen | None, *, drill_started_at: float
) -> Finding | None:
    """The finding when the fault killed only the service's own processes and writes it had
    acknowledged before are lost; None otherwise (no fault, another component's, no loss)."""
    if seen is None or seen.component is None or seen.component.role != "app":
        return None
    killed = sorted(lost_to_the_fault(lost, seen), key=lambda write: write.ack_monotonic)
    if not killed:
        return None
    # Signed: a write acknowledged during the injection (by a replica not yet killed) is a few
    # milliseconds "after" the fault time, shown as such in the evidence.
    before = [round(seen.at - write.ack_monotonic, 3) for write in killed]
    replicas = [str(r) for r in seen.details.get("killed", [])]
    component = seen.component.name
    by = f" ({', '.join(replicas)})" if replicas else ""
    return Finding(
        kind=KIND,
        component=component,
        summary=(
            f"{len(killed)} acknowledged write(s) lost when the processes of {component} were "
            f"killed{by}: acknowledged {max(0.0, min(before)):.1f} s to "
            f"{max(0.0, max(before)):.1f} s before the kill, and only the service's own "
            "processes were killed, so they were held in its memory, not stored, when it "
            "acknowledged them"
        ),
        evidence={
            "lost": len(killed),
            "first_lost": [
                {"trace_id": write.trace_id, "acknowledged_seconds_before_kill": seconds}
                for write, seconds in zip(killed[:FIRST_LOST_SHOWN], before, strict=False)
            ],
            "acknowledged_seconds_before_kill": {"oldest": max(before), "newest": min(before)},
            "kill": {
                "fault": seen.name,
                "seconds_into_drill": round(seen.at - drill_started_at, 3),
                "wall": (
                    None
                    if seen.wall is None
                    else datetime.fromtimestamp(seen.wall, UTC).isoformat(timespec="milliseconds")
                ),
                "injection_seconds": round(seen.done_at - seen.at, 3),
                "replicas": replicas,
                "pids": list(seen.details.get("pids", [])),
            },
        },
    )


class BufferedWritesWatch:
    """Beside the ledger (after it in start order): attributes its lost writes to their cause."""

    name = "buffered_writes"

    def __init__(self) -> None:
        self._drill: Drill | None = None

    def start(self, drill: Drill) -> None:
        self._drill = drill

    def stop(self, drill: Drill) -> None:
        """Nothing to stop: the ledger's read-backs are read when asked."""

    def figures(self) -> Mapping[str, Any]:
        if self._drill is None:
            return {}
        by_cause = lost_by_cause(_lost_writes(self._drill), _fault_seen(self._drill))
        return {"lost_by_cause": by_cause} if by_cause else {}

    def attachments(self) -> list[Attachment]:
        return []

    def findings(self, drill: Drill) -> list[Finding]:
        finding = buffered_writes_finding(
            _lost_writes(drill), _fault_seen(drill), drill_started_at=drill.started_at
        )
        return [finding] if finding is not None else []


def _lost_writes(drill: Drill) -> Sequence[LostWrite]:
    for companion in drill.companions:
        if companion.name == _LEDGER and isinstance(companion, LostWritesSource):
            return companion.lost_writes()
    return []


def _fault_seen(drill: Drill) -> FaultSeen | None:
    if drill.fault is None or drill.fault_at is None:
        return None
    return fault_seen(drill.timeline, drill.fault, drill.fault_at, drill.config.target.components)


def buffered_writes_companion(
    target: Target, identity: DrillIdentity
) -> BufferedWritesWatch | None:
    """The companion factory: wherever the ledger writes (no ledger, no lost writes to read)."""
    if not target.config.ledger.write_path:
        return None
    return BufferedWritesWatch()
