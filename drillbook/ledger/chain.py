"""Hash-chain verification of an audit log: gaps, forks, reordering and tampering, located.

Two formats:

* the reference service's `evidence_records` (see eleanor_reference.evidence,
  whose `payload_hash` and `record_hash` are the definition: the verifier hashes the same
  bytes, made faster, see `_scan` and drillbook.ledger.canonical): genesis `prev_hash` is
  "0" * 64;
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
  before it rewritten with fresh hashes, which is the same thing for an audit log);
* unreadable: a line of a JSON-lines file, before its last, that holds no JSON object (a record
  torn or overwritten in place); the last line, unterminated, is a write in flight, not one.

And, when the head of the chain before the fault is given (drillbook.ledger.heads), whether the
chain still holds it: an intact chain that lost it was truncated or rewritten.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from json.encoder import encode_basestring_ascii
from operator import itemgetter, methodcaller
from typing import Any, Final, Literal

import orjson

from drillbook.core.contracts import GENESIS_HASH, canonical_json
from drillbook.ledger.canonical import BATCH, canonical_many
from drillbook.ledger.heads import ChainFormat as ChainFormat  # with the heads, which name it
from drillbook.ledger.heads import ChainHead, HeadCheck, check_head

ChainProblemKind = Literal["tampered", "fork", "reordered", "gap", "unreadable"]

ELEANOR_GENESIS: Final = ""
"""prev_hash of the first record of an ELEANOR V8 ledger."""

_PARALLEL_MINIMUM = 50_000
"""Below this many records a fork costs more than it saves."""
_SCAN_BATCH = BATCH
"""Records hashed per step of a scan (see _scan)."""
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
    line: int | None = None
    """Its line in a JSON-lines file (1-based); None for a store without lines (a table)."""

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"record #{self.position}"
        if self.trace_id:
            where += f" (trace_id={self.trace_id!r})"
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain."""

    format: ChainFormat
    records: int
    problems: tuple[ChainProblem, ...]
    last_hash: str
    """record_hash of the last record (the head of the chain)."""
    head: HeadCheck | None = None
    """The head before the fault against this chain, when one was recorded."""

    @property
    def intact(self) -> bool:
        """No break, and the head before the fault (when recorded) still in the chain."""
        return not self.problems and (self.head is None or self.head.holds)

    @property
    def first_bad_line(self) -> int | None:
        """The first line of a JSON-lines file with a problem (None: none, or no lines)."""
        lines = [p.line for p in self.problems if p.line is not None]
        return min(lines) if lines else None

    def count(self, kind: ChainProblemKind) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def describe(self, limit: int = 3) -> str:
        head = "" if self.head is None else f"; {self.head.describe()}"
        if not self.problems:
            state = "chain intact" if self.intact else "every link holds"
            return f"{self.records} records, {state}{head}"
        shown = "; ".join(p.describe() for p in self.problems[:limit])
        more = f" (and {len(self.problems) - limit} more)" if len(self.problems) > limit else ""
        return f"{self.records} records, {len(self.problems)} chain problem(s): {shown}{more}{head}"

    def figures(self, limit: int = 10) -> dict[str, Any]:
        return {
            "format": self.format,
            "records": self.records,
            "intact": self.intact,
            "tampered": self.count("tampered"),
            "forks": self.count("fork"),
            "reordered": self.count("reordered"),
            "gaps": self.count("gap"),
            "unreadable": self.count("unreadable"),
            "first_bad_line": self.first_bad_line,
            "first_problems": [p.describe() for p in self.problems[:limit]],
            "head": self.head.figures() if self.head is not None else None,
        }


# --------------------------------------------------------------------------- the two formats


def verify_evidence_chain(
    records: Sequence[Mapping[str, Any]], *, genesis: str = GENESIS_HASH, workers: int = 1
) -> ChainReport:
    """Verify `evidence_records` rows (in id order): trace_id, payload and the three hashes.

    Pass `genesis` = the prev_hash of the first row to verify a segment of a longer chain, and
    `workers` > 1 to recompute the hashes in that many forked processes (large chains only).
    """
    return _verify("evidence_records", records, _evidence_batch, genesis, workers)


def _evidence_batch(
    rows: Sequence[Mapping[str, Any]], columns: _Columns, first: int
) -> list[ChainProblem]:
    sha256 = hashlib.sha256
    payload_texts = canonical_many(_column(rows, "payload"), canonical_json)
    stored_payload_hashes = list(map(str, _column(rows, "payload_hash")))
    trace_ids = list(map(str, columns.trace_ids))
    prev_hashes = list(map(str, columns.prev_hashes))
    payload_digests = [sha256(text).hexdigest() for text in payload_texts]
    # record_hash = sha256 of canonical_json({"trace_id", "payload_hash", "prev_hash"}): three
    # strings in sorted key order, each escaped as the encoder escapes strings
    # (evidence.record_hash); hex digests and trace ids need no escaping, which is checked for
    # each column at once, so the usual record is one f-string.
    if all(map(_need_no_escaping, (stored_payload_hashes, prev_hashes, trace_ids))):
        record_digests = [
            sha256(
                f'{{"payload_hash":"{p_hash}","prev_hash":"{prev}","trace_id":"{trace}"}}'.encode()
            ).hexdigest()
            for p_hash, prev, trace in zip(
                stored_payload_hashes, prev_hashes, trace_ids, strict=True
            )
        ]
    else:
        escape = encode_basestring_ascii
        record_digests = [
            sha256(
                f'{{"payload_hash":{p_hash},"prev_hash":{prev},"trace_id":{trace}}}'.encode()
            ).hexdigest()
            for p_hash, prev, trace in zip(
                map(escape, stored_payload_hashes),
                map(escape, prev_hashes),
                map(escape, trace_ids),
                strict=True,
            )
        ]
    problems = [
        ChainProblem("tampered", first + offset, trace_ids[offset], _PAYLOAD_ALTERED)
        for offset in _mismatches(payload_digests, stored_payload_hashes)
    ]
    problems += [
        ChainProblem(
            "tampered",
            first + offset,
            trace_ids[offset],
            "record_hash does not match trace_id, payload_hash and prev_hash",
        )
        for offset in _mismatches(record_digests, columns.record_hashes)
    ]
    return problems


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """`row.get(key)` of every row, the loop in C (indexing first: twice as fast as get)."""
    try:
        return list(map(itemgetter(key), rows))
    except KeyError:
        return list(map(methodcaller("get", key), rows))


_PLAIN_ASCII: Final = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
"""What JSON writes as it is: printable ASCII but the quote and the backslash."""


def _need_no_escaping(strings: list[str]) -> bool:
    """The JSON string of each is itself between quotes: no quote, backslash, control or
    non-ASCII character in any (checked on all of them joined, in C)."""
    joined = "".join(strings)
    return joined.isascii() and not joined.encode("ascii").translate(None, _PLAIN_ASCII)


def _mismatches(computed: list[str], stored: Sequence[Any]) -> list[int]:
    """Offsets where the computed hash is not the stored one (one C-level compare if none)."""
    if computed == stored:
        return []
    return [offset for offset, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b]


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
    return _verify("eleanor_ledger", records, _eleanor_batch, genesis, workers)


def _eleanor_batch(
    rows: Sequence[Mapping[str, Any]], columns: _Columns, first: int
) -> list[ChainProblem]:
    sha256 = hashlib.sha256
    payloads = _column(rows, "payload")
    stored_payload_hashes = _column(rows, "payload_hash")
    trace_ids = columns.trace_ids
    # Optimistic first: orjson's bytes (sorted keys, compact) are json's for most payloads,
    # and whenever their sha256 equals the stored payload_hash they *are* the bytes the hash
    # was made of (anything else is a sha256 collision). Only a payload whose hash does not
    # match (orjson wrote a float, or text beyond ASCII, otherwise than json; or the payload
    # was altered) is encoded again, exactly as ELEANOR does, and judged on that. ELEANOR's
    # payloads hold floats (critics' scores), which json and orjson may write differently:
    # proving the bytes equal beforehand (canonical_many) sent every one of them to json.
    payload_texts = _optimistic_texts(payloads)
    payload_digests = [sha256(text).hexdigest() for text in payload_texts]
    for offset in _mismatches(payload_digests, stored_payload_hashes):
        exact = canonical_many([payloads[offset]], _ELEANOR_ENCODER.encode)[0]
        payload_texts[offset] = exact
        payload_digests[offset] = sha256(exact).hexdigest()
    # The canonical JSON of the record without record_hash, assembled around the payload text
    # already made (keys in sorted order, each value encoded as the encoder would): the same
    # bytes as eleanor_record_hash hashes, without encoding the payload twice.
    record_digests = [
        sha256(
            f'{{"actor_id":{actor},"event":{event},"event_id":{event_id},"payload":'.encode()
            + payload
            + f',"payload_hash":{p_hash},"prev_hash":{prev},"timestamp":{timestamp},'
            f'"trace_id":{trace}}}'.encode()
        ).hexdigest()
        for actor, event, event_id, payload, p_hash, prev, timestamp, trace in zip(
            _canonical_values(_column(rows, "actor_id")),
            _canonical_values(_column(rows, "event")),
            _canonical_values(_column(rows, "event_id")),
            payload_texts,
            _canonical_values(stored_payload_hashes),
            _canonical_values(columns.prev_hashes),
            _canonical_values(_column(rows, "timestamp")),
            _canonical_values(trace_ids),
            strict=True,
        )
    ]
    shown = [trace if isinstance(trace, str) else None for trace in trace_ids]
    problems = [
        ChainProblem("tampered", first + offset, shown[offset], _PAYLOAD_ALTERED)
        for offset in _mismatches(payload_digests, stored_payload_hashes)
    ]
    problems += [
        ChainProblem(
            "tampered", first + offset, shown[offset], "record_hash does not match its fields"
        )
        for offset in _mismatches(record_digests, columns.record_hashes)
    ]
    return problems


_PAYLOAD_ALTERED = "payload_hash does not match the payload: the payload was altered"
_SORTED = orjson.OPT_SORT_KEYS


def _optimistic_texts(values: Sequence[Any]) -> list[bytes]:
    """orjson's sorted, compact bytes of each value (b"" where orjson refuses one: its hash
    then matches nothing, and the value is encoded exactly)."""
    dumps = orjson.dumps
    try:
        return [dumps(value, option=_SORTED) for value in values]
    except TypeError:  # orjson.JSONEncodeError: an int past 64 bits, a type it does not know
        texts: list[bytes] = []
        for value in values:
            try:
                texts.append(dumps(value, option=_SORTED))
            except TypeError:
                texts.append(b"")
        return texts


@dataclass(frozen=True)
class _Columns:
    """The linking fields of records as stored, read once for the scan and the links."""

    trace_ids: list[Any]
    prev_hashes: list[Any]
    record_hashes: list[Any]

    @classmethod
    def of(cls, records: Sequence[Mapping[str, Any]]) -> _Columns:
        return cls(
            _column(records, "trace_id"),
            _column(records, "prev_hash"),
            _column(records, "record_hash"),
        )

    def extend(self, more: _Columns) -> None:
        self.trace_ids.extend(more.trace_ids)
        self.prev_hashes.extend(more.prev_hashes)
        self.record_hashes.extend(more.record_hashes)

    def slice(self, start: int, stop: int) -> _Columns:
        return _Columns(
            self.trace_ids[start:stop],
            self.prev_hashes[start:stop],
            self.record_hashes[start:stop],
        )


Scan = Callable[[Sequence[Mapping[str, Any]], _Columns, int], list[ChainProblem]]
"""Finds the tampered records of one batch: its rows, their linking fields, the position of
the first."""
_SHARED: tuple[Sequence[Mapping[str, Any]], _Columns, Scan] | None = None
"""The records a forked worker scans: inherited through fork, never pickled."""


def _die_on_sigterm() -> None:
    """Pool worker start-up: SIGTERM kills the worker at once.

    A forked worker inherits the parent's handlers, and drillbook's pytest plugin turns SIGTERM
    into KeyboardInterrupt (an orderly stop of a drill). Pool.terminate stops its workers with
    SIGTERM: raised as an exception inside multiprocessing's own queue code, it could leave a
    queue lock taken and the pool waiting forever for that worker (it did, in about 1 test run
    of 6).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _scan_shared(bounds: tuple[int, int]) -> list[ChainProblem]:
    assert _SHARED is not None
    records, columns, scan = _SHARED
    return _scan(scan, records, columns, *bounds, read_columns=False)


def _scan(
    scan: Scan,
    records: Sequence[Mapping[str, Any]],
    columns: _Columns,
    start: int,
    stop: int,
    *,
    read_columns: bool,
) -> list[ChainProblem]:
    """Scan records[start:stop] a batch at a time; with `read_columns`, read each batch's
    linking fields into `columns` on the way (else they are there already)."""
    # Column by column within a batch rather than record by record: canonical_many encodes the
    # batch's payloads in one orjson call, and the comprehensions run far less interpreter code
    # per record than a loop calling payload_hash and record_hash (evidence.py, the
    # definitions) would. A batch at a time: its rows are read while in cache, and its texts
    # and digests are freed before the next batch, so that memory is reused where a million of
    # each would be fresh pages. This is what verifies a million records in seconds
    # (benchmarks/bench_ledger_check.py); the bytes hashed are the definitions' bytes
    # (tests/unit/test_ledger_canonical.py, test_ledger_chain.py).
    problems: list[ChainProblem] = []
    for first in range(start, stop, _SCAN_BATCH):
        last = min(first + _SCAN_BATCH, stop)
        rows = records[first:last]
        if read_columns:
            batch = _Columns.of(rows)
            columns.extend(batch)
        else:
            batch = columns.slice(first, last)
        problems += scan(rows, batch, first)
    return problems


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
        columns = _Columns.of(records)  # read before the fork: the workers share them
        step = -(-count // workers)
        bounds = [(start, min(start + step, count)) for start in range(0, count, step)]
        _SHARED = (records, columns, scan)
        try:
            context = multiprocessing.get_context("fork")
            with context.Pool(len(bounds), initializer=_die_on_sigterm) as pool:
                problems = [p for part in pool.map(_scan_shared, bounds) for p in part]
                # Let the workers finish on their own; leaving the block terminates them.
                pool.close()
                pool.join()
        finally:
            _SHARED = None
    else:
        columns = _Columns([], [], [])
        problems = _scan(scan, records, columns, 0, count, read_columns=True)
    return _finish(kind, count, columns, problems, genesis)


def _finish(
    kind: ChainFormat,
    count: int,
    columns: _Columns,
    problems: list[ChainProblem],
    genesis: str,
    lines: Sequence[int] | None = None,
) -> ChainReport:
    """The links of a chain whose records were scanned: every problem, by position (each with
    its line, when `lines` gives the line of each record)."""
    prev_hashes = list(map(str, columns.prev_hashes))
    record_hashes = list(map(str, columns.record_hashes))
    # Two records can share a predecessor while every link holds only if some record_hash
    # repeats, and when no record was tampered with every record_hash is the sha256 of its own
    # fields, prev_hash included: a repeat would then take a SHA-256 collision (or a record
    # hashing to the genesis value). So the search for such forks (a set of a million hashes)
    # is left out when nothing was tampered with: what is found is the same.
    links_hold = (
        _every_link_holds(prev_hashes, record_hashes, genesis)
        if not problems
        else _links_hold(prev_hashes, record_hashes, genesis)
    )
    if not links_hold:
        trace_ids = [t if isinstance(t, str) else None for t in columns.trace_ids]
        problems += link_problems(prev_hashes, record_hashes, trace_ids, genesis=genesis)
    if lines is not None:
        problems = [
            p if p.line is not None else replace(p, line=lines[p.position]) for p in problems
        ]
    # An unreadable line has the position of the record after it, and comes first.
    problems.sort(key=lambda p: (p.position, p.line if p.line is not None else 0))
    return ChainReport(
        kind, count, tuple(problems), record_hashes[-1] if record_hashes else genesis
    )


def _canonical_value(value: Any) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    return _ELEANOR_ENCODER.encode(value)


def _canonical_values(values: list[Any]) -> list[str]:
    """`_canonical_value` of each; all strings (the usual case) are escaped in C alone."""
    if all(type(value) is str for value in values):
        return list(map(encode_basestring_ascii, values))
    return list(map(_canonical_value, values))


_SCANS: Final[dict[ChainFormat, Scan]] = {
    "evidence_records": _evidence_batch,
    "eleanor_ledger": _eleanor_batch,
}
GENESIS: Final[dict[ChainFormat, str]] = {
    "evidence_records": GENESIS_HASH,
    "eleanor_ledger": ELEANOR_GENESIS,
}
"""The prev_hash of each format's first record."""


def scan_rows(
    kind: ChainFormat, rows: Sequence[Mapping[str, Any]], first: int
) -> list[ChainProblem]:
    """The tampered records among parsed rows (positioned from `first`), found exactly as the
    format's verifier finds them; their links are not followed here."""
    return _scan_at(_SCANS[kind], rows, _Columns([], [], []), first)


def _scan_at(
    scan: Scan, rows: Sequence[Mapping[str, Any]], columns: _Columns, position: int
) -> list[ChainProblem]:
    """Scan `rows`, the first at chain position `position`, a batch at a time, adding their
    linking fields to `columns`."""
    problems: list[ChainProblem] = []
    for start in range(0, len(rows), _SCAN_BATCH):
        chunk = rows[start : start + _SCAN_BATCH]
        batch = _Columns.of(chunk)
        columns.extend(batch)
        problems += scan(chunk, batch, position + start)
    return problems


def chain_gone(before: ChainHead) -> ChainReport:
    """The report of a store that holds no chain any more (a file deleted or emptied, a table
    dropped) where `before` was the head: no problem in it, and the head not held."""
    kind = before.chain_format
    head = check_head(before, [], [], int, where=before.where)
    return ChainReport(kind, 0, (), GENESIS[kind], head=head)


class ChainAccumulator:
    """A chain verified as it is read, a batch of records at a time (a file streamed, whose
    records need not all be held at once); its links are followed once the last is in.

    Each batch comes with its records' problems already found (`add_rows` finds them for
    rows as parsed, in the format's batch scan; a faster reader finds them itself and hands
    over the linking fields with `add_checked`).
    """

    def __init__(self, kind: ChainFormat, *, genesis: str | None = None) -> None:
        self.kind = kind
        self.genesis = GENESIS[kind] if genesis is None else genesis
        self.count = 0
        """Records added so far: the position of the next."""
        self._columns = _Columns([], [], [])
        self._problems: list[ChainProblem] = []
        self._scan = _SCANS[kind]

    def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Parsed records, next in the chain's order: hashed here, exactly as the format's
        verifier does."""
        self._problems += _scan_at(self._scan, rows, self._columns, self.count)
        self.count += len(rows)

    def add_checked(
        self,
        trace_ids: list[Any],
        prev_hashes: list[Any],
        record_hashes: list[Any],
        problems: Sequence[ChainProblem],
    ) -> None:
        """Records next in the chain's order whose hashes the caller has checked (`problems`,
        positioned from `count`): their linking fields, by record."""
        self._columns.extend(_Columns(trace_ids, prev_hashes, record_hashes))
        self._problems += problems
        self.count += len(record_hashes)

    def add_problem(self, problem: ChainProblem) -> None:
        """A problem that is no record's hash (an unreadable line before record `count`)."""
        self._problems.append(problem)

    def report(self, lines: Sequence[int] | None = None) -> ChainReport:
        """Every record added, verified and linked; `lines` gives each record's line."""
        return _finish(
            self.kind, self.count, self._columns, list(self._problems), self.genesis, lines
        )


VERIFIERS: Final[dict[ChainFormat, Callable[[Sequence[Mapping[str, Any]]], ChainReport]]] = {
    "evidence_records": verify_evidence_chain,
    "eleanor_ledger": verify_eleanor_ledger,
}


# --------------------------------------------------------------------------- the links


def _links_hold(prev_hashes: Sequence[str], record_hashes: Sequence[str], genesis: str) -> bool:
    """Every record links to the one before it and no two share a predecessor (a fork that
    keeps every link, which takes a record_hash that repeats): the common case, checked with
    two C-level operations instead of building the maps."""
    if not _every_link_holds(prev_hashes, record_hashes, genesis):
        return False
    return len(set(prev_hashes)) == len(prev_hashes)


def _every_link_holds(
    prev_hashes: Sequence[str], record_hashes: Sequence[str], genesis: str
) -> bool:
    """Each record's prev_hash is the record_hash of the record before it (genesis first)."""
    expected = [genesis, *record_hashes[:-1]] if record_hashes else []
    return (prev_hashes if isinstance(prev_hashes, list) else list(prev_hashes)) == expected


def link_problems(
    prev_hashes: Sequence[str],
    record_hashes: Sequence[str],
    trace_ids: Sequence[str | None],
    *,
    genesis: str,
) -> list[ChainProblem]:
    """Classify every record whose prev_hash is not the record_hash of the record before it."""
    if _links_hold(prev_hashes, record_hashes, genesis):
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
