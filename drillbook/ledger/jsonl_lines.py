"""ELEANOR V8 ledger lines verified at speed: decoded into typed records, the payload left raw.

A straightforward verifier (ELEANOR's own `verify_ledger`) spends per line one `json.loads`
and two `json.dumps` with sorted keys, ~15 us a record on the project's machine. Here a line
is decoded by msgspec into an `EleanorLine` (eight strings and the payload's raw bytes, no
dict, no garbage-collector bookkeeping), the payload alone is decoded and encoded again with
sorted keys, and the record's bytes are that line encoded with sorted fields, the payload's
bytes in their place and record_hash left out: about a third of the work.

Why a match proves the record. msgspec's bytes are JSON that decodes to exactly the values
read (each value encoded by a correct JSON encoder), but they are not always json's bytes
(floats such as 1e-05, which it writes 0.00001; a key order beyond ASCII). Whenever their
sha256 equals the stored hash they *are* the bytes the hash was made of (anything else is a
SHA-256 collision), and the values they decode to, the values read, are the values hashed.
Text beyond ASCII is escaped first as json's ensure_ascii escapes it (drillbook.ledger.
canonical), so that such records match too. A record whose hash does not match (altered, or
written otherwise than msgspec writes it) is parsed again as json parses it and judged by the
exact verifier (drillbook.ledger.chain), so every verdict is the exact one.

A line msgspec will not decode as an `EleanorLine` (a field more or less, a value that is not
a string, NaN, an integer past 64 bits, a lone surrogate) is left to the caller, which parses
it as json does and hands it to the exact verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from drillbook.ledger.canonical import ascii_escaped
from drillbook.ledger.chain import ChainProblem, scan_rows


class EleanorLine(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """One ledger line as ELEANOR V8 writes it: the fields record_hash covers, and
    record_hash. Encoded with sorted fields and record_hash None, it is the record's canonical
    JSON (record_hash is the one field with a default, so the only one left out as None)."""

    actor_id: str | None
    event: str | None
    event_id: str | None
    payload: msgspec.Raw
    payload_hash: str | None
    prev_hash: str | None
    timestamp: str | None
    trace_id: str | None
    record_hash: str | None = None


ExactParser = Callable[[bytes], dict[str, Any] | None]
"""A line parsed as json parses it (a dict), or None when it is not a JSON object."""

_LINE: Final = msgspec.json.Decoder(EleanorLine)
_ANY: Final = msgspec.json.Decoder()
_SORTED: Final = msgspec.json.Encoder(order="sorted")


def decode_lines(lines: Sequence[bytes]) -> list[EleanorLine | None]:
    """Each line as an `EleanorLine`, or None where it does not decode as one."""
    decode = _LINE.decode
    try:
        return list(map(decode, lines))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return [_decode_one(line) for line in lines]


def _decode_one(line: bytes) -> EleanorLine | None:
    try:
        return _LINE.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _payload_text(payload: msgspec.Raw) -> bytes:
    try:
        return _SORTED.encode(_ANY.decode(payload))
    except msgspec.DecodeError:
        return b""


def _as_json_escapes(texts: list[bytes]) -> list[bytes]:
    """The texts with what json's ensure_ascii escapes and msgspec writes as it is (text
    beyond ASCII, DEL) escaped as json does; checked on all of them joined, in C, since
    usually there is none."""
    joined = b"".join(texts)
    if joined.isascii() and b"\x7f" not in joined:
        return texts
    return list(map(ascii_escaped, texts))


@dataclass(frozen=True)
class CheckedLines:
    """The linking fields of a run of lines, by record, and the records found tampered."""

    trace_ids: list[Any]
    prev_hashes: list[Any]
    record_hashes: list[Any]
    problems: list[ChainProblem]


def check_lines(
    records: list[EleanorLine], raw: Sequence[bytes], first: int, exact: ExactParser
) -> CheckedLines:
    """Every record's payload_hash and record_hash recomputed; `raw` are their lines (parsed
    again by `exact` for a record whose hash does not match), `first` the chain position of
    the first. The records are changed on the way (payload and record_hash replaced)."""
    sha256 = hashlib.sha256
    encode = _SORTED.encode
    decode = _ANY.decode
    Raw = msgspec.Raw
    trace_ids = [record.trace_id for record in records]
    prev_hashes = [record.prev_hash for record in records]
    stored_payload_hashes = [record.payload_hash for record in records]
    stored_record_hashes = [record.record_hash for record in records]
    try:
        payload_texts = [encode(decode(record.payload)) for record in records]
    except msgspec.DecodeError:  # a number past a float's range: b"" matches no hash
        payload_texts = [_payload_text(record.payload) for record in records]
    payload_texts = _as_json_escapes(payload_texts)
    payload_digests = [sha256(text).hexdigest() for text in payload_texts]
    for record, text in zip(records, payload_texts, strict=True):
        record.payload = Raw(text)
        record.record_hash = None
    record_texts = [encode(record) for record in records]
    record_texts = _as_json_escapes(record_texts)
    record_digests = [sha256(text).hexdigest() for text in record_texts]
    problems: list[ChainProblem] = []
    if payload_digests != stored_payload_hashes or record_digests != stored_record_hashes:
        doubtful = sorted(
            {
                offset
                for offset, (a, b, c, d) in enumerate(
                    zip(
                        payload_digests,
                        stored_payload_hashes,
                        record_digests,
                        stored_record_hashes,
                        strict=True,
                    )
                )
                if a != b or c != d
            }
        )
        for offset in doubtful:
            row = exact(raw[offset])
            if row is None:  # cannot happen: msgspec decoded it; judged as unreadable if so
                problems.append(
                    ChainProblem(
                        "unreadable", first + offset, None, "the line is not a JSON object"
                    )
                )
                continue
            problems += scan_rows("eleanor_ledger", [row], first + offset)
    return CheckedLines(trace_ids, prev_hashes, stored_record_hashes, problems)
