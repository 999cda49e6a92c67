"""One pass over a JSON-lines file: its records' count, trace ids, hashes and chain at once.

A ledger check asks a file for three things (how many records, which of the drill's writes are
there, is the chain intact); each used to re-read and re-parse the whole file. Here the file is
split into lines once and read a batch of lines at a time: each batch is parsed, its records'
hashes checked, its linking fields kept, and the records themselves dropped before the next
batch (a million parsed records are gigabytes; their trace ids and hashes are tens of MB).
The cyclic garbage collector is paused meanwhile: a million new objects otherwise make it
walk them again and again (9-10 s of a million-record parse, against 1.4 s).

Every record's hashes are recomputed, none sampled. ELEANOR V8's ledger lines go through the
fast reader (drillbook.ledger.jsonl_lines); any other line, and any record whose hash does not
match there, is parsed as json parses it and judged by the exact verifier
(drillbook.ledger.chain), so a verdict never depends on the reader that got there.

Lines. A blank line is nothing. A line that is not a JSON object (a record torn or overwritten
in place) is an `unreadable` problem of a chained file, with its line number, except the last
line when the file does not end with a newline: that is a write in flight (or cut by a crash,
never acknowledged whole), skipped as before. Every problem carries its line (1-based).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import compress
from operator import methodcaller
from typing import Any, Final

import msgspec

from drillbook.ledger.chain import (
    ChainAccumulator,
    ChainFormat,
    ChainProblem,
    ChainReport,
    chain_gone,
)
from drillbook.ledger.checker import StoredRecord
from drillbook.ledger.heads import ChainHead, HeadCheck, check_head, last_head
from drillbook.ledger.jsonl_lines import EleanorLine, check_lines, decode_lines

BATCH: Final = 4096
"""Lines parsed and checked per step: their records are dropped before the next step."""
ELEANOR_FIELDS: Final = ("event_id", "event", "payload", "payload_hash", "prev_hash", "record_hash")
EVIDENCE_FIELDS: Final = ("trace_id", "payload", "payload_hash", "prev_hash", "record_hash")
_WHERE: Final = "line"
_STRINGS: Final = frozenset({str})
_GENERIC: Final = msgspec.json.Decoder()


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A line as json reads it, when it holds a JSON object; None otherwise.

    msgspec first: where it reads a line at all it reads it as json does (integers past 64 bits
    exactly, a key written twice as its last value); json for what it refuses (NaN, Infinity,
    numbers past a float's range, lone surrogates). Not orjson: it reads an integer past 64 bits
    as a float, which would make a verifier see an intact record as altered."""
    try:
        value = _GENERIC.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def chain_format(record: dict[str, Any]) -> ChainFormat | None:
    """The hash chain a file's records carry, judged on its first record (None: none)."""
    if all(field in record for field in ELEANOR_FIELDS):
        return "eleanor_ledger"
    if all(field in record for field in EVIDENCE_FIELDS):
        return "evidence_records"
    return None


@dataclass(frozen=True)
class JsonlScan:
    """What one pass over a JSON-lines file found."""

    trace_ids: list[Any]
    """Each record's trace field as stored (any JSON value, None when absent)."""
    record_hashes: list[Any]
    lines: Sequence[int]
    """Each record's line (1-based)."""
    chain: ChainReport | None
    """The file's hash chain verified; None when its records carry none."""
    torn_tail: bool = False
    """The file ends in an unterminated line that is not a JSON object (a write in flight)."""

    @property
    def count(self) -> int:
        return len(self.record_hashes)

    def stored(self, prefix: str) -> list[StoredRecord]:
        """The records whose trace id starts with `prefix`, in file order, at their lines."""
        lines, hashes, traces = self.lines, self.record_hashes, self.trace_ids
        # The drill's writes are a few among the service's records: their indices first, in
        # C when every trace id is a string (the usual file), then a record for those only.
        if _STRINGS.issuperset(map(type, traces)):
            ours: Iterable[int] = compress(
                range(len(traces)), map(methodcaller("startswith", prefix), traces)
            )
        else:
            ours = (
                index
                for index, trace_id in enumerate(traces)
                if type(trace_id) is str and trace_id.startswith(prefix)
            )
        return [
            StoredRecord(
                traces[index],
                lines[index],
                digest if isinstance(digest := hashes[index], str) else None,
            )
            for index in ours
        ]

    def head(self) -> ChainHead | None:
        """The last record of the chain; None when the file has no chain or no record."""
        if self.chain is None:
            return None
        return last_head(
            self.chain.format,
            self.record_hashes,
            self.trace_ids,
            self.lines.__getitem__,
            where=_WHERE,
        )

    def check_head(self, before: ChainHead) -> HeadCheck:
        return check_head(
            before, self.record_hashes, self.trace_ids, self.lines.__getitem__, where=_WHERE
        )

    def anchored(self, before: ChainHead | None) -> ChainReport | None:
        """The chain, judged also on whether it still holds `before` (when given)."""
        if before is None:
            return self.chain
        if self.chain is None:  # the file is gone, empty, or holds other records now
            return chain_gone(before)
        return replace(self.chain, head=self.check_head(before))


def scan_jsonl(data: bytes, *, trace_field: str = "trace_id") -> JsonlScan:
    """Read every line of a JSON-lines file once (see the module docstring)."""
    with _collector_paused():
        return _Scanner(data, trace_field).run()


@contextmanager
def _collector_paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _Scanner:
    """The state of one pass: the columns kept, the chain so far, the lines of the records."""

    def __init__(self, data: bytes, trace_field: str) -> None:
        self.lines = data.split(b"\n")
        # The piece after the last newline: b"" when the file ends with one, else a line
        # still being written (or cut by a crash).
        self.unterminated = len(self.lines) if self.lines[-1] else None
        if not self.lines[-1]:
            self.lines.pop()
        self.trace_field = trace_field
        self.trace_ids: list[Any] = []
        self.record_hashes: list[Any] = []
        self.record_lines: list[int] | None = None
        """Each record's line, once some line was not a record (until then: record i is on
        line i + 1, kept as a range)."""
        self.chain: ChainAccumulator | None = None
        self.torn_tail = False

    def run(self) -> JsonlScan:
        first = next((row for row in map(parse_line, self.lines) if row is not None), None)
        kind = chain_format(first) if first is not None else None
        self.chain = ChainAccumulator(kind) if kind is not None else None
        fast = self.chain is not None and (
            self.chain.kind == "eleanor_ledger" and self.trace_field == "trace_id"
        )
        for start in range(0, len(self.lines), BATCH):
            batch = self.lines[start : start + BATCH]
            if fast:
                self._eleanor_batch(batch, start + 1)
            else:
                self._rows(batch, start + 1)
        count = len(self.record_hashes)
        lines: Sequence[int] = (
            self.record_lines if self.record_lines is not None else range(1, count + 1)
        )
        report = self.chain.report(lines) if self.chain is not None else None
        return JsonlScan(self.trace_ids, self.record_hashes, lines, report, self.torn_tail)

    # -- records -------------------------------------------------------------------------
    def _eleanor_batch(self, batch: list[bytes], first_line: int) -> None:
        """A batch of an ELEANOR ledger: the fast reader for the lines it decodes, runs of
        them at once; the exact path for the others."""
        decoded = decode_lines(batch)
        if None not in decoded:
            self._fast_run(decoded, batch, first_line)  # type: ignore[arg-type]
            return
        run: list[EleanorLine] = []
        raw: list[bytes] = []
        run_line = first_line
        for offset, (record, line) in enumerate(zip(decoded, batch, strict=True)):
            if record is not None:
                if not run:
                    run_line = first_line + offset
                run.append(record)
                raw.append(line)
                continue
            if run:
                self._fast_run(run, raw, run_line)
                run, raw = [], []
            self._rows([line], first_line + offset)
        if run:
            self._fast_run(run, raw, run_line)

    def _fast_run(self, records: list[EleanorLine], raw: list[bytes], first_line: int) -> None:
        """Consecutive lines (the first at `first_line`) that all decoded as ELEANOR lines."""
        assert self.chain is not None
        checked = check_lines(records, raw, self.chain.count, parse_line)
        self.chain.add_checked(
            checked.trace_ids, checked.prev_hashes, checked.record_hashes, checked.problems
        )
        self.trace_ids += checked.trace_ids
        self.record_hashes += checked.record_hashes
        if self.record_lines is not None:
            self.record_lines.extend(range(first_line, first_line + len(records)))

    def _rows(self, batch: list[bytes], first_line: int) -> None:
        """Lines parsed as json parses them, their records hashed by the exact verifier."""
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        for offset, line in enumerate(batch):
            number = first_line + offset
            row = parse_line(line)
            if row is not None:
                rows.append(row)
                lines.append(number)
                continue
            if rows:  # first, in order: the chain's positions and the records' lines
                self._add_rows(rows, lines)
                rows, lines = [], []
            self._not_a_record(line, number)
        if rows:
            self._add_rows(rows, lines)

    def _add_rows(self, rows: list[dict[str, Any]], lines: list[int]) -> None:
        if self.chain is not None:
            self.chain.add_rows(rows)
        field = self.trace_field
        self.trace_ids += [row.get(field) for row in rows]
        self.record_hashes += [row.get("record_hash") for row in rows]
        if self.record_lines is not None:
            self.record_lines += lines

    # -- lines that are not records --------------------------------------------------------
    def _not_a_record(self, line: bytes, number: int) -> None:
        # Every line up to here was a record (record i on line i + 1): from now on, each
        # record's line is kept.
        if self.record_lines is None:
            self.record_lines = list(range(1, len(self.record_hashes) + 1))
        if not line.strip():
            return
        if number == self.unterminated:
            self.torn_tail = True
            return
        if self.chain is not None:
            self._unreadable(number)

    def _unreadable(self, number: int) -> None:
        assert self.chain is not None
        self.chain.add_problem(
            ChainProblem(
                "unreadable",
                self.chain.count,
                None,
                "the line holds no JSON object: a record torn or overwritten in place",
                line=number,
            )
        )
