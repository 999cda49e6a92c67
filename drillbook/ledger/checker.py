"""Compare what the target acknowledged with what it still holds: lost, duplicated, RPO.

Pure functions over plain data, so every rule is tested with invented numbers, and written a
column at a time (C-level map, zip and list comparisons, no loop per write in Python) so that a
million writes are checked in well under a second (benchmarks/bench_ledger_check.py).

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

import operator
from collections.abc import Collection, Sequence, Set
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from typing import Any, Literal

from drillbook.ledger.acks import Acknowledgement


@dataclass(frozen=True, slots=True)
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
    stored_traces = list(map(_TRACE_ID, stored))
    ack_traces = list(map(_TRACE_ID, acks))
    lost: list[Acknowledgement] = []
    duplicated: list[str] = []
    found_acks = list(acks)
    stored_ids: Set[str]
    if stored_traces == ack_traces and len(stored_ids := set(stored_traces)) == len(stored):
        # The usual read-back: every acknowledged write stored once, in acknowledgement order,
        # and nothing else. Each write is then where it was expected, no lookup table needed.
        found_kept = list(stored)
    else:
        # Built backwards so that the first record stored under a trace id is the one kept;
        # any later one is a duplicate.
        by_trace = dict(zip(reversed(stored_traces), reversed(stored), strict=True))
        stored_ids = by_trace.keys()
        if len(by_trace) < len(stored_traces):
            duplicated = _duplicates(stored_traces)
        kept = list(map(by_trace.get, ack_traces))
        if None in kept:
            present = list(map(operator.is_not, kept, repeat(None)))
            lost = list(compress(acks, map(operator.not_, present)))
            found_acks = list(compress(acks, present))
        found_kept = list(filter(None, kept))  # a StoredRecord is always true
    found = len(found_kept)
    altered = _altered(found_acks, found_kept)
    reordered = _reordered(list(map(_POSITION, found_kept)))
    attempted_set = attempted if isinstance(attempted, set | frozenset) else set(attempted)
    unexpected = sorted(stored_ids - attempted_set)
    reference_at = fault_at if fault_at is not None else checked_at
    lost.sort(key=lambda ack: ack.ack_monotonic)
    return LedgerCheck(
        acknowledged=len(acks),
        attempted=len(attempted_set),
        found=found,
        lost=tuple(lost),
        duplicated=tuple(dict.fromkeys(duplicated)),
        unexpected=tuple(unexpected),
        unacknowledged_stored=len(stored_ids) - found - len(unexpected),
        altered=tuple(altered),
        reordered=reordered,
        rpo_seconds=recovery_point_seconds(lost, reference_at),
        reference="fault" if fault_at is not None else "check",
        lost_after_reference=sum(1 for ack in lost if ack.ack_monotonic > reference_at),
    )


_TRACE_ID = operator.attrgetter("trace_id")
_POSITION = operator.attrgetter("position")
_RECORD_HASH = operator.attrgetter("record_hash")


def _duplicates(trace_ids: list[str]) -> list[str]:
    """The trace id of every copy after the first, in store order (repeats and all)."""
    seen: set[str] = set()
    duplicated: list[str] = []
    for trace_id in trace_ids:
        if trace_id in seen:
            duplicated.append(trace_id)
        else:
            seen.add(trace_id)
    return duplicated


def _altered(acks: list[Acknowledgement], kept: list[StoredRecord]) -> list[str]:
    """Trace ids whose stored hash is not the one acknowledged (when both are known)."""
    acknowledged = list(map(_RECORD_HASH, acks))
    stored = list(map(_RECORD_HASH, kept))
    if acknowledged == stored:
        return []
    return [
        ack.trace_id
        for ack, ack_hash, kept_hash in zip(acks, acknowledged, stored, strict=True)
        if ack_hash and kept_hash and ack_hash != kept_hash
    ]


def _reordered(positions: list[int]) -> int:
    """Writes stored before a write acknowledged earlier (positions in acknowledgement order)."""
    if all(map(operator.le, positions, islice(positions, 1, None))):
        return 0
    reordered = 0
    last_position = -1
    for position in positions:
        if position < last_position:
            reordered += 1
        else:
            last_position = position
    return reordered
