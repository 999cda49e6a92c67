"""Compare what the target acknowledged with what it still holds: lost, duplicated, RPO.

Pure functions over plain data, so every rule is tested with invented numbers and a million
writes are checked in about a second (benchmarks/bench_ledger_check.py).

Times. Every time here is CLOCK_MONOTONIC of the test process (`time.monotonic()`), never the
target's clock: a write's time is `Acknowledgement.ack_monotonic`, the instant its success
answer arrived, and the fault time is `Drill.fault_at`, taken just before the fault is
injected. With no fault (a drill that only restores a backup), the reference is the time of the
check instead.

RPO (recovery point). With L the acknowledged writes that are not in the store:

    RPO = reference time - min(ack_monotonic of the writes in L), and 0 when L is empty,

i.e. how far back before the fault the lost data reaches: a backup restored from 4 minutes
before the fault loses the writes acknowledged in those 4 minutes and the RPO is about 4 minutes.
Writes acknowledged *after* the fault and then lost add nothing to the figure (it is clamped at
0) but they are counted in `lost` like every other: the evidence objective is a count, zero.
The resolution of the figure is the writer's interval (1/rate): the loss may reach back up to
one interval further than the oldest lost acknowledgement.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from drillbook.ledger.acks import Acknowledgement


@dataclass(frozen=True)
class StoredRecord:
    """One record of the drill's writes as read back from the store."""

    trace_id: str
    position: int
    """Its place in the store's own order (row id, line number); used to find reordering."""
    record_hash: str | None = None
    """The stored record's chain hash, when the store has one."""


@dataclass(frozen=True)
class LedgerCheck:
    """The verdict of one read-back: what survived of what was acknowledged."""

    acknowledged: int
    """Writes the target acknowledged (up to the check)."""
    attempted: int
    """Writes sent, acknowledged or not."""
    found: int
    """Acknowledged writes found in the store."""
    lost: tuple[Acknowledgement, ...]
    """Acknowledged writes missing from the store, oldest first."""
    duplicated: tuple[str, ...]
    """Trace ids stored more than once."""
    unexpected: tuple[str, ...]
    """Trace ids of this drill's writes in the store that the writer never sent."""
    unacknowledged_stored: int
    """Writes sent but not acknowledged (refused, timed out, in flight at the fault) that were
    stored anyway: legitimate, the answer was lost, not the data."""
    altered: tuple[str, ...]
    """Acknowledged writes whose stored hash differs from the hash acknowledged."""
    reordered: int
    """Acknowledged writes stored before a write acknowledged earlier (store order broken)."""
    rpo_seconds: float
    """See the module docstring; 0 when nothing acknowledged was lost."""
    reference: Literal["fault", "check"]
    """What the RPO is measured back from: the fault time, or the check (no fault)."""
    lost_after_reference: int = 0
    """Lost writes acknowledged after the reference time (they add nothing to the RPO)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def intact(self) -> bool:
        """Nothing lost, duplicated, altered or unexpected."""
        return not (self.lost or self.duplicated or self.unexpected or self.altered)

    def first_lost(self, limit: int = 10) -> list[dict[str, Any]]:
        """The oldest lost writes, for reports."""
        return [
            {
                "seq": ack.seq,
                "trace_id": ack.trace_id,
                "ack_wall": ack.ack_wall,
                "record_hash": ack.record_hash,
            }
            for ack in self.lost[:limit]
        ]

    def figures(self) -> dict[str, Any]:
        """JSON-serialisable figures (figures.json)."""
        return {
            "acknowledged": self.acknowledged,
            "attempted": self.attempted,
            "found": self.found,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unexpected": len(self.unexpected),
            "unacknowledged_stored": self.unacknowledged_stored,
            "altered": len(self.altered),
            "reordered": self.reordered,
            "rpo_seconds": round(self.rpo_seconds, 4),
            "rpo_reference": self.reference,
            "lost_after_reference": self.lost_after_reference,
            "first_lost": self.first_lost(),
        }

    def describe(self) -> str:
        """One line: the figures a verdict rests on."""
        text = (
            f"{self.acknowledged} acknowledged, {len(self.lost)} lost, "
            f"{len(self.duplicated)} duplicated, {len(self.unexpected)} unexpected, "
            f"RPO {self.rpo_seconds:.3f}s"
        )
        if self.lost:
            shown = ", ".join(a.trace_id for a in self.lost[:3])
            more = f" and {len(self.lost) - 3} more" if len(self.lost) > 3 else ""
            text += f"; first lost: {shown}{more}"
        return text


def recovery_point_seconds(lost: Sequence[Acknowledgement], reference_at: float) -> float:
    """RPO: reference time minus the oldest lost acknowledgement, clamped at 0 (0 if none)."""
    if not lost:
        return 0.0
    oldest = min(ack.ack_monotonic for ack in lost)
    return max(0.0, reference_at - oldest)


def check_ledger(
    acks: Sequence[Acknowledgement],
    stored: Sequence[StoredRecord],
    *,
    attempted: Collection[str],
    fault_at: float | None,
    checked_at: float,
) -> LedgerCheck:
    """Compare the acknowledgements (in send order) with the records read back.

    `stored` holds the records of this drill's writes found in the store (in store order);
    `attempted` the trace ids of every write sent, acknowledged or not, up to the read-back.
    """
    by_trace: dict[str, StoredRecord] = {}
    duplicated: list[str] = []
    for record in stored:
        if record.trace_id in by_trace:
            duplicated.append(record.trace_id)
        else:
            by_trace[record.trace_id] = record
    lost: list[Acknowledgement] = []
    altered: list[str] = []
    reordered = 0
    found = 0
    last_position = -1
    for ack in acks:
        kept = by_trace.get(ack.trace_id)
        if kept is None:
            lost.append(ack)
            continue
        found += 1
        if ack.record_hash and kept.record_hash and ack.record_hash != kept.record_hash:
            altered.append(ack.trace_id)
        if kept.position < last_position:
            reordered += 1
        else:
            last_position = kept.position
    attempted_set = attempted if isinstance(attempted, set | frozenset) else set(attempted)
    unexpected = sorted(by_trace.keys() - attempted_set)
    reference_at = fault_at if fault_at is not None else checked_at
    lost.sort(key=lambda ack: ack.ack_monotonic)
    return LedgerCheck(
        acknowledged=len(acks),
        attempted=len(attempted_set),
        found=found,
        lost=tuple(lost),
        duplicated=tuple(dict.fromkeys(duplicated)),
        unexpected=tuple(unexpected),
        unacknowledged_stored=len(by_trace) - found - len(unexpected),
        altered=tuple(altered),
        reordered=reordered,
        rpo_seconds=recovery_point_seconds(lost, reference_at),
        reference="fault" if fault_at is not None else "check",
        lost_after_reference=sum(1 for ack in lost if ack.ack_monotonic > reference_at),
    )
