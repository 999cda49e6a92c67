"""What the writer sends, and whether a record read back whole is what was sent.

A read-back endpoint that answers 200 for a trace id has kept *a* record under it, not
necessarily the one written: a restore from the wrong backup, a cache serving a stale or
foreign entry, a migration that rewrote bodies all answer 200. So a source that returns the
record whole (HTTP) is held to the fields the writer controls: the trace id, and the `input`
and `context` it sent, found either at the top of the body or in one object of it (the
reference service answers `{"payload": {"input", "context", ...}}`, a notes service
`{"body": {...}}`). Fields the service adds (ids, times, hashes, decisions) are its own and
not compared. Pure functions, tested with invented bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from drillbook.ledger.checker import StoredRecord

WRITTEN_FIELDS: Final = ("input", "context")
"""The fields of a write's body the writer sets and a read-back must return unchanged."""


def write_body(run_id: str, seq: int, trace_id: str) -> dict[str, Any]:
    """The body of write `seq` (ELEANOR's `POST /deliberate` shape)."""
    return {
        "input": f"drillbook ledger write {seq}",
        "context": {"drillbook_run": run_id, "sequence": seq},
        "trace_id": trace_id,
    }


def content_differences(
    sent: Mapping[str, Any], document: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """The written fields the read-back shows otherwise than sent; None when it shows none of
    them (nothing to compare: a service answering with a status only)."""
    compared = False
    differing: list[str] = []
    if "trace_id" in document:
        compared = True
        if document["trace_id"] != sent["trace_id"]:
            differing.append("trace_id")
    holder = _holder(document)
    if holder is not None:
        for key in WRITTEN_FIELDS:
            if key in holder:
                compared = True
                if holder[key] != sent[key]:
                    differing.append(key)
    return tuple(differing) if compared else None


def _holder(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Where the written fields are: the body itself, or the first object in it holding
    `input`."""
    if any(key in document for key in WRITTEN_FIELDS):
        return document
    for value in document.values():
        if isinstance(value, Mapping) and "input" in value:
            return value
    return None


@dataclass(frozen=True)
class ContentCheck:
    """The records of one source read back whole, held to what was sent."""

    compared: int
    """Records whose body showed written fields to compare."""
    altered: tuple[tuple[str, tuple[str, ...]], ...]
    """Each record read back otherwise than written: its trace id and the fields that differ."""

    def describe(self) -> str:
        shown = "; ".join(f"{trace}: {', '.join(fields)}" for trace, fields in self.altered[:3])
        more = f" and {len(self.altered) - 3} more" if len(self.altered) > 3 else ""
        return (
            f"{len(self.altered)} of {self.compared} write(s) read back with other content "
            f"than was written (first: {shown}{more})"
        )

    def figures(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "altered": len(self.altered),
            "first_altered": [
                {"trace_id": trace, "fields": list(fields)} for trace, fields in self.altered[:10]
            ],
        }


def check_content(stored: Sequence[StoredRecord], run_id: str, prefix: str) -> ContentCheck | None:
    """Every record of this writer read back whole, against the body it sent (by its sequence
    number, from the trace id); None when no record came back whole."""
    whole = [record for record in stored if record.content is not None]
    if not whole:
        return None
    compared = 0
    altered: list[tuple[str, tuple[str, ...]]] = []
    for record in whole:
        seq = _sequence(record.trace_id, prefix)
        if seq is None or record.content is None:
            continue  # not a trace id this writer makes: nothing it sent to compare with
        differing = content_differences(write_body(run_id, seq, record.trace_id), record.content)
        if differing is None:
            continue
        compared += 1
        if differing:
            altered.append((record.trace_id, differing))
    return ContentCheck(compared, tuple(altered))


def _sequence(trace_id: str, prefix: str) -> int | None:
    number = trace_id[len(prefix) :] if trace_id.startswith(prefix) else ""
    return int(number) if number.isdigit() and number.isascii() else None
