"""Hash-chain verification of an audit log: gaps, forks, reordering and tampering, located.

Two formats:

* the reference service's `evidence_records` (see drillbook.stack.reference_service.evidence,
  whose `payload_hash` and `record_hash` are the definition and are reused here): genesis
  `prev_hash` is "0" * 64;
* ELEANOR V8's hash-chained JSON-lines ledger (`ELEANOR_LEDGER_PATH`): each record has
  event_id, timestamp, event, trace_id, actor_id, payload, payload_hash, prev_hash and
  record_hash, where payload_hash = sha256(canonical(payload)) and record_hash =
  sha256(canonical(the record without record_hash)), canonical being JSON with sorted keys, no
  whitespace, ASCII only (non-JSON values as str); the first record's prev_hash is "".

What is found, by position (0-based, in the order given, which is the store's order):

* tampered: a record's payload_hash does not match its payload, or its record_hash does not
  match its fields (the record was altered after it was written);
* fork: two records link to the same predecessor (two histories, or a record replayed);
* reordered: a record links to a record that exists but is not the one before it;
* gap: a record links to a record that is not there (records missing before it, or the record
  before it rewritten with fresh hashes, which is the same thing for an audit log).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final, Literal

from drillbook.stack.reference_service.evidence import GENESIS_HASH, payload_hash, record_hash

ChainProblemKind = Literal["tampered", "fork", "reordered", "gap"]
ChainFormat = Literal["evidence_records", "eleanor_ledger"]

ELEANOR_GENESIS: Final = ""
"""prev_hash of the first record of an ELEANOR V8 ledger."""

_PARALLEL_MINIMUM = 50_000
"""Below this many records a fork costs more than it saves."""
_ELEANOR_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
)


@dataclass(frozen=True)
class ChainProblem:
    """One break of the chain, where it is and what it means."""

    kind: ChainProblemKind
    position: int
    """0-based index of the offending record in the order verified."""
    trace_id: str | None
    detail: str

    def describe(self) -> str:
        where = f"record #{self.position}" + (
            f" (trace_id={self.trace_id!r})" if self.trace_id else ""
        )
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain."""

    format: ChainFormat
    records: int
    problems: tuple[ChainProblem, ...]
    last_hash: str
    """record_hash of the last record (the head of the chain)."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def count(self, kind: ChainProblemKind) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def describe(self, limit: int = 3) -> str:
        if self.intact:
            return f"{self.records} records, chain intact"
        shown = "; ".join(p.describe() for p in self.problems[:limit])
        more = f" (and {len(self.problems) - limit} more)" if len(self.problems) > limit else ""
        return f"{self.records} records, {len(self.problems)} chain problem(s): {shown}{more}"

    def figures(self, limit: int = 10) -> dict[str, Any]:
        return {
            "format": self.format,
            "records": self.records,
            "intact": self.intact,
            "tampered": self.count("tampered"),
            "forks": self.count("fork"),
            "reordered": self.count("reordered"),
            "gaps": self.count("gap"),
            "first_problems": [p.describe() for p in self.problems[:limit]],
        }


# --------------------------------------------------------------------------- the two formats


def verify_evidence_chain(
    records: Sequence[Mapping[str, Any]], *, genesis: str = GENESIS_HASH, workers: int = 1
) -> ChainReport:
    """Verify `evidence_records` rows (in id order): trace_id, payload and the three hashes.

    Pass `genesis` = the prev_hash of the first row to verify a segment of a longer chain, and
    `workers` > 1 to recompute the hashes in that many forked processes (large chains only).
    """
    return _verify("evidence_records", records, _evidence_tampering, genesis, workers)


def _evidence_tampering(
    records: Sequence[Mapping[str, Any]], start: int, stop: int
) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for position in range(start, stop):
        record = records[position]
        trace_id = str(record["trace_id"])
        stored_payload_hash = str(record["payload_hash"])
        if payload_hash(record["payload"]) != stored_payload_hash:
            problems.append(ChainProblem("tampered", position, trace_id, _PAYLOAD_ALTERED))
        if (
            record_hash(trace_id, stored_payload_hash, str(record["prev_hash"]))
            != record["record_hash"]
        ):
            problems.append(
                ChainProblem(
                    "tampered",
                    position,
                    trace_id,
                    "record_hash does not match trace_id, payload_hash and prev_hash",
                )
            )
    return problems


def eleanor_payload_hash(payload: Any) -> str:
    """ELEANOR V8's payload_hash: sha256 of the canonical JSON of the payload."""
    return hashlib.sha256(_ELEANOR_ENCODER.encode(payload).encode("utf-8")).hexdigest()


def eleanor_record_hash(record: Mapping[str, Any]) -> str:
    """ELEANOR V8's record_hash: sha256 of the canonical JSON of the record's other fields."""
    core = {
        "event_id": record.get("event_id"),
        "timestamp": record.get("timestamp"),
        "event": record.get("event"),
        "trace_id": record.get("trace_id"),
        "actor_id": record.get("actor_id"),
        "payload": record.get("payload"),
        "payload_hash": record.get("payload_hash"),
        "prev_hash": record.get("prev_hash"),
    }
    return hashlib.sha256(_ELEANOR_ENCODER.encode(core).encode("utf-8")).hexdigest()


def eleanor_record(
    *,
    event_id: str,
    timestamp: str,
    event: str,
    payload: Mapping[str, Any],
    prev_hash: str,
    trace_id: str | None = None,
    actor_id: str | None = None,
) -> dict[str, Any]:
    """A well-formed ELEANOR V8 ledger record linked to `prev_hash` (for tests and benchmarks)."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "timestamp": timestamp,
        "event": event,
        "trace_id": trace_id,
        "actor_id": actor_id,
        "payload": dict(payload),
        "payload_hash": eleanor_payload_hash(payload),
        "prev_hash": prev_hash,
    }
    record["record_hash"] = eleanor_record_hash(record)
    return record


def verify_eleanor_ledger(
    records: Sequence[Mapping[str, Any]], *, genesis: str = ELEANOR_GENESIS, workers: int = 1
) -> ChainReport:
    """Verify ELEANOR V8 ledger records (in file order)."""
    return _verify("eleanor_ledger", records, _eleanor_tampering, genesis, workers)


def _eleanor_tampering(
    records: Sequence[Mapping[str, Any]], start: int, stop: int
) -> list[ChainProblem]:
    encode = _ELEANOR_ENCODER.encode
    value = _canonical_value
    sha256 = hashlib.sha256
    problems: list[ChainProblem] = []
    for position in range(start, stop):
        record = records[position]
        payload_text = encode(record.get("payload"))
        stored_payload_hash = record.get("payload_hash")
        trace_id = record.get("trace_id")
        shown_trace = trace_id if isinstance(trace_id, str) else None
        if sha256(payload_text.encode("utf-8")).hexdigest() != stored_payload_hash:
            problems.append(ChainProblem("tampered", position, shown_trace, _PAYLOAD_ALTERED))
        # The canonical JSON of the record without record_hash, assembled around the payload
        # text already made (keys in sorted order, each value encoded as the encoder would):
        # the same bytes as eleanor_record_hash hashes, without encoding the payload twice.
        core_text = (
            f'{{"actor_id":{value(record.get("actor_id"))},"event":{value(record.get("event"))},'
            f'"event_id":{value(record.get("event_id"))},"payload":{payload_text},'
            f'"payload_hash":{value(stored_payload_hash)},'
            f'"prev_hash":{value(record.get("prev_hash"))},'
            f'"timestamp":{value(record.get("timestamp"))},"trace_id":{value(trace_id)}}}'
        )
        if sha256(core_text.encode("utf-8")).hexdigest() != record.get("record_hash"):
            problems.append(
                ChainProblem(
                    "tampered", position, shown_trace, "record_hash does not match its fields"
                )
            )
    return problems


_PAYLOAD_ALTERED = "payload_hash does not match the payload: the payload was altered"
Scan = Callable[[Sequence[Mapping[str, Any]], int, int], list[ChainProblem]]
_SHARED: tuple[Sequence[Mapping[str, Any]], Scan] | None = None
"""The records a forked worker scans: inherited through fork, never pickled."""


def _scan_shared(bounds: tuple[int, int]) -> list[ChainProblem]:
    assert _SHARED is not None
    records, scan = _SHARED
    return scan(records, *bounds)


def _verify(
    kind: ChainFormat,
    records: Sequence[Mapping[str, Any]],
    scan: Scan,
    genesis: str,
    workers: int,
) -> ChainReport:
    global _SHARED
    count = len(records)
    if workers > 1 and count >= _PARALLEL_MINIMUM:
        step = -(-count // workers)
        bounds = [(start, min(start + step, count)) for start in range(0, count, step)]
        _SHARED = (records, scan)
        try:
            with multiprocessing.get_context("fork").Pool(len(bounds)) as pool:
                problems = [p for part in pool.map(_scan_shared, bounds) for p in part]
        finally:
            _SHARED = None
    else:
        problems = scan(records, 0, count)
    prev_hashes = [str(r.get("prev_hash")) for r in records]
    record_hashes = [str(r.get("record_hash")) for r in records]
    trace_ids = [t if isinstance(t := r.get("trace_id"), str) else None for r in records]
    problems += link_problems(prev_hashes, record_hashes, trace_ids, genesis=genesis)
    problems.sort(key=lambda p: p.position)
    return ChainReport(
        kind, count, tuple(problems), record_hashes[-1] if record_hashes else genesis
    )


def _canonical_value(value: Any) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    return _ELEANOR_ENCODER.encode(value)


VERIFIERS: Final[dict[ChainFormat, Callable[[Sequence[Mapping[str, Any]]], ChainReport]]] = {
    "evidence_records": verify_evidence_chain,
    "eleanor_ledger": verify_eleanor_ledger,
}


# --------------------------------------------------------------------------- the links


def link_problems(
    prev_hashes: Sequence[str],
    record_hashes: Sequence[str],
    trace_ids: Sequence[str | None],
    *,
    genesis: str,
) -> list[ChainProblem]:
    """Classify every record whose prev_hash is not the record_hash of the record before it."""
    links_hold = all(
        prev == before
        for prev, before in zip(prev_hashes, [genesis, *record_hashes[:-1]], strict=False)
    )
    # Every link holds and no two records share a predecessor (the one fork that keeps every
    # link: a record replayed twice in a row): the common case, without building the maps.
    if links_hold and len(set(prev_hashes)) == len(prev_hashes):
        return []
    position_of: dict[str, int] = {}
    for position, digest in enumerate(record_hashes):
        position_of.setdefault(digest, position)
    successor_of: dict[str, int] = {}
    problems: list[ChainProblem] = []
    for position, prev in enumerate(prev_hashes):
        trace_id = trace_ids[position]
        first_successor = successor_of.setdefault(prev, position)
        if first_successor != position:
            problems.append(
                ChainProblem(
                    "fork",
                    position,
                    trace_id,
                    f"links to the same predecessor as record #{first_successor}",
                )
            )
            continue
        expected = genesis if position == 0 else record_hashes[position - 1]
        if prev == expected:
            continue
        linked = position_of.get(prev)
        if linked is not None:
            problems.append(
                ChainProblem(
                    "reordered",
                    position,
                    trace_id,
                    f"links to record #{linked}, not to the record before it",
                )
            )
        elif prev == genesis:
            problems.append(
                ChainProblem("fork", position, trace_id, "starts a second chain from genesis")
            )
        else:
            before = "the start of the chain" if position == 0 else f"record #{position - 1}"
            problems.append(
                ChainProblem(
                    "gap",
                    position,
                    trace_id,
                    f"links to {prev[:16]}..., a record that is not there: records are missing "
                    f"between {before} and this one (or the one before was rewritten)",
                )
            )
    return problems
