"""The chain head before the fault, and whether the chain after recovery still holds it.

A hash chain verified after recovery can be intact and still have lost history: a store
truncated back to an older record, or rewritten from some record on with fresh hashes, is a
chain whose every link holds. What it cannot do is keep the record that was its head before the
fault: that record's hash covers everything before it. So the writer records the head (the last
record, its position and record_hash) before anything is injected, and after recovery the head
must still be in the chain, with the same hash. Pure data and one pure rule, tested with
invented chains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ChainFormat = Literal["evidence_records", "eleanor_ledger"]
"""The hash chains drillbook verifies (drillbook.ledger.chain)."""


@dataclass(frozen=True)
class ChainHead:
    """One record of a chain, as the evidence of a head check shows it."""

    chain_format: ChainFormat
    """The chain it is a record of: a store that holds no chain after the fault still has
    its report, of that format and holding nothing."""
    position: int
    """The store's own position of the record: its row id (a table), its line (a file)."""
    record_hash: str
    trace_id: str | None = None
    where: str = "record"
    """What `position` counts, for reports: "id" (a table) or "line" (a file)."""

    def describe(self) -> str:
        trace = f", trace_id={self.trace_id!r}" if self.trace_id else ""
        return f"{self.where} {self.position}{trace}, record_hash {self.record_hash[:16]}..."

    def figures(self) -> dict[str, Any]:
        return {
            self.where: self.position,
            "trace_id": self.trace_id,
            "record_hash": self.record_hash,
        }


@dataclass(frozen=True)
class HeadCheck:
    """The pre-fault head against the chain after recovery."""

    before: ChainHead
    found: ChainHead | None
    """The record that holds the pre-fault head's hash now (None: no record does)."""
    at_position: ChainHead | None
    """What holds the pre-fault head's position now (None: nothing, the chain is shorter)."""
    head_after: ChainHead | None
    """The chain's last record now (None: the chain is empty)."""

    @property
    def holds(self) -> bool:
        """The pre-fault head is still in the chain, unchanged (its hash is there, so is
        everything before it: each record's hash covers the hash of the one before)."""
        return self.found is not None

    def describe(self) -> str:
        if self.found is not None:
            moved = (
                ""
                if self.found.position == self.before.position
                else f" (moved from {self.before.where} {self.before.position} to "
                f"{self.found.position})"
            )
            return f"the head before the fault ({self.before.describe()}) is still there{moved}"
        there = (
            f"{self.at_position.describe()} holds its place"
            if self.at_position is not None
            else f"nothing holds its place (the chain ends at "
            f"{self.head_after.describe() if self.head_after is not None else 'nothing'})"
        )
        return (
            f"the head before the fault ({self.before.describe()}) is gone from the chain: "
            f"history truncated or rewritten; {there}"
        )

    def figures(self) -> dict[str, Any]:
        return {
            "holds": self.holds,
            "before": self.before.figures(),
            "found": self.found.figures() if self.found is not None else None,
            "at_position": self.at_position.figures() if self.at_position is not None else None,
            "after": self.head_after.figures() if self.head_after is not None else None,
        }


def last_head(
    chain_format: ChainFormat,
    record_hashes: Sequence[Any],
    trace_ids: Sequence[Any],
    position_of: Callable[[int], int],
    *,
    where: str,
) -> ChainHead | None:
    """The last record of a chain (by index) as a head; None for an empty chain or a last
    record without a usable hash."""
    if not record_hashes:
        return None
    last = len(record_hashes) - 1
    return _head_at(chain_format, last, record_hashes, trace_ids, position_of, where)


def check_head(
    before: ChainHead,
    record_hashes: Sequence[Any],
    trace_ids: Sequence[Any],
    position_of: Callable[[int], int],
    *,
    where: str,
) -> HeadCheck:
    """Where the pre-fault head is in the chain now (record hashes and trace ids by index;
    `position_of` turns an index into the store's own position)."""
    try:
        index: int | None = _index(record_hashes, before.record_hash)
    except ValueError:
        index = None
    kind = before.chain_format
    found = (
        _head_at(kind, index, record_hashes, trace_ids, position_of, where)
        if index is not None
        else None
    )
    at_position = None
    if found is None:
        positions = (position_of(i) for i in range(len(record_hashes)))
        at_index = next((i for i, p in enumerate(positions) if p == before.position), None)
        if at_index is not None:
            at_position = _head_at(kind, at_index, record_hashes, trace_ids, position_of, where)
    return HeadCheck(
        before,
        found,
        at_position,
        last_head(kind, record_hashes, trace_ids, position_of, where=where),
    )


def _index(record_hashes: Sequence[Any], digest: str) -> int:
    """The last index holding `digest` (list.index from the end: the head is usually near it)."""
    if isinstance(record_hashes, list):
        reversed_index = record_hashes[::-1].index(digest)
        return len(record_hashes) - 1 - reversed_index
    for index in range(len(record_hashes) - 1, -1, -1):
        if record_hashes[index] == digest:
            return index
    raise ValueError(digest)


def _head_at(
    chain_format: ChainFormat,
    index: int,
    record_hashes: Sequence[Any],
    trace_ids: Sequence[Any],
    position_of: Callable[[int], int],
    where: str,
) -> ChainHead | None:
    digest = record_hashes[index]
    if not isinstance(digest, str):
        return None
    trace = trace_ids[index] if index < len(trace_ids) else None
    return ChainHead(
        chain_format,
        position_of(index),
        digest,
        trace if isinstance(trace, str) else None,
        where,
    )
