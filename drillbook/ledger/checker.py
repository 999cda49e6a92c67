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

Several sources. A service may keep its records in more than one place (a database and a
JSON-lines journal); a restore of one does not touch the other, so each is read back and held to
every acknowledgement on its own (`check_sources`). A write missing from any source is lost, and
the verdict says which source lost which writes.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
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
    content: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The record as the store returned it, for sources that return it whole (HTTP): held to
    what the writer sent (drillbook.ledger.readback)."""


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
    by_source: Mapping[str, LedgerCheck] = field(default_factory=dict)
    """With several sources, each one's own check, by its description (this check is then
    their union: a write missing from any of them is lost); empty with a single source."""

    @property
    def losing_sources(self) -> dict[str, tuple[Acknowledgement, ...]]:
        """The sources that lost acknowledged writes, and which (oldest first)."""
        return {name: check.lost for name, check in self.by_source.items() if check.lost}

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
            **({"by_source": self.source_figures()} if self.by_source else {}),
        }

    def source_figures(self) -> dict[str, dict[str, Any]]:
        """Each source's own figures (what it lost, duplicated, altered), by description."""
        return {
            name: {
                "found": check.found,
                "lost": len(check.lost),
                "duplicated": len(check.duplicated),
                "unexpected": len(check.unexpected),
                "altered": len(check.altered),
                "reordered": check.reordered,
                "rpo_seconds": round(check.rpo_seconds, 4),
                "first_lost": [ack.trace_id for ack in check.lost[:10]],
            }
            for name, check in self.by_source.items()
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
        if self.by_source and not self.intact:
            text += "; " + "; ".join(
                f"{name}: {check.describe_damage()}" for name, check in self.by_source.items()
            )
        return text

    def describe_damage(self) -> str:
        """What this (one source's) check found missing, doubled or changed, in a few words."""
        parts = [
            f"{len(values)} {what}"
            for values, what in (
                (self.lost, "lost"),
                (self.duplicated, "duplicated"),
                (self.unexpected, "unexpected"),
                (self.altered, "altered"),
            )
            if values
        ]
        if self.lost:
            parts[0] += f" (first {self.lost[0].trace_id})"
        return ", ".join(parts) or "nothing lost"


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


def check_sources(
    acks: Sequence[Acknowledgement],
    stored_by_source: Mapping[str, Sequence[StoredRecord]],
    *,
    attempted: Collection[str],
    fault_at: float | None,
    checked_at: float,
) -> LedgerCheck:
    """`check_ledger` against each source (by description, in the order configured), and the
    verdict of them all: every acknowledged write must be in each source.

    With one source this is that source's check, unchanged. With several, a write missing from
    any source is lost (and the RPO reaches back to the oldest such write), a trace id stored
    twice, altered or unexpected in any source is so counted, and `by_source` keeps each
    source's own check so that reports say which source lost which writes.
    """
    if not stored_by_source:
        raise ValueError("check_sources needs at least one source")
    attempted_set = attempted if isinstance(attempted, set | frozenset) else set(attempted)
    checks = {
        name: check_ledger(
            acks, stored, attempted=attempted_set, fault_at=fault_at, checked_at=checked_at
        )
        for name, stored in stored_by_source.items()
    }
    if len(checks) == 1:
        return next(iter(checks.values()))
    lost_ids = {ack.trace_id for check in checks.values() for ack in check.lost}
    lost = sorted((ack for ack in acks if ack.trace_id in lost_ids), key=_ACK_MONOTONIC)
    reference_at = fault_at if fault_at is not None else checked_at
    return LedgerCheck(
        acknowledged=len(acks),
        attempted=len(attempted_set),
        found=len(acks) - len(lost),
        lost=tuple(lost),
        duplicated=_union(check.duplicated for check in checks.values()),
        unexpected=tuple(sorted(set(_union(check.unexpected for check in checks.values())))),
        # Stored anyway in one source may be missing from another: the most any source holds.
        unacknowledged_stored=max(check.unacknowledged_stored for check in checks.values()),
        altered=_union(check.altered for check in checks.values()),
        reordered=max(check.reordered for check in checks.values()),
        rpo_seconds=recovery_point_seconds(lost, reference_at),
        reference="fault" if fault_at is not None else "check",
        lost_after_reference=sum(1 for ack in lost if ack.ack_monotonic > reference_at),
        by_source=checks,
    )


def _union(groups: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Every trace id of the groups once, in first-seen order."""
    return tuple(dict.fromkeys(trace_id for group in groups for trace_id in group))


_ACK_MONOTONIC = operator.attrgetter("ack_monotonic")
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
