"""The fast JSON-lines reader gives the exact verifier's verdict, record for record.

The reader (drillbook.ledger.jsonl_scan with jsonl_lines) decodes ELEANOR ledger lines with
msgspec and hashes msgspec's bytes; wherever those are not json's (floats, text beyond ASCII,
DEL), or a line is not the usual shape (a field more, a value that is not a string, NaN, a big
integer, a key twice), the verdict must still be the one the exact verifier gives on the lines
as json parses them. Each case is checked both ways on the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drillbook.ledger.chain import ELEANOR_GENESIS, eleanor_record, verify_eleanor_ledger
from drillbook.ledger.jsonl_lines import check_lines, decode_lines
from drillbook.ledger.jsonl_scan import parse_line, scan_jsonl
from drillbook.ledger.sources import JsonlSource, parse_json_lines

ODD_PAYLOADS: list[dict[str, Any]] = [
    {"score": 1e-05, "big": 1e16, "half": 0.5},  # json writes 1e-05 and 1e+16, msgspec not
    {"text": "résumé ✓ 😀", "del": "a\x7fb", "ctl": "\x01\n\t"},  # escaped by json
    {"nested": [{"b": 1, "a": [True, None, {"z": "", "y": -0.0}]}], "": "empty key"},
    {"huge": 2**70, "negative": -(2**63) - 1},  # past 64 bits
    {"ü": 1, "u": 2, "z": 3},  # keys beyond ASCII sort by code point
    {"nan": float("nan"), "inf": float("inf")},  # json writes NaN: not JSON, read by json
]


def ledger(payloads: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = ELEANOR_GENESIS
    for seq, payload in enumerate(payloads):
        record = eleanor_record(
            event_id=f"evt-{seq}",
            timestamp=f"2026-12-06T08:00:{seq:02d}Z",
            event="deliberation.completed",
            payload=payload,
            prev_hash=prev,
            trace_id=fields.get("trace_id", f"t-{seq}"),
            actor_id=fields.get("actor_id", "engine"),
        )
        records.append(record)
        prev = record["record_hash"]
    return records


def both_ways(data: bytes) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(fast reader's problems, exact verifier's problems) on the same bytes."""
    fast = scan_jsonl(data).chain
    assert fast is not None
    exact = verify_eleanor_ledger(parse_json_lines(data))
    assert fast.records == exact.records and fast.last_hash == exact.last_hash
    return (
        [(p.kind, p.position) for p in fast.problems],
        [(p.kind, p.position) for p in exact.problems],
    )


def encode(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.mark.parametrize("payload", ODD_PAYLOADS, ids=range(len(ODD_PAYLOADS)))
def test_odd_values_are_verified_as_json_verifies_them(payload: dict[str, Any]) -> None:
    records = ledger([{"n": 0}, payload, {"n": 2}])
    fast, exact = both_ways(encode(records))
    assert fast == exact == []

    records[1]["payload"] = {**payload, "added": 1}  # now altered
    fast, exact = both_ways(encode(records))
    assert fast == exact == [("tampered", 1), ("tampered", 1)]


def test_a_number_past_a_floats_range_is_read_as_json_reads_it() -> None:
    records = ledger([{"n": 0}, {"x": 1.0}, {"n": 2}])
    lines = encode(records).decode().splitlines()
    # Written by hand, not by json: 1e400, which json reads as inf (and so its hash breaks).
    lines[1] = lines[1].replace('{"x": 1.0}', '{"x": 1e400}')
    fast, exact = both_ways(("\n".join(lines) + "\n").encode())
    assert fast == exact == [("tampered", 1), ("tampered", 1)]


def test_lines_written_without_ascii_escapes_verify_too() -> None:
    records = ledger([{"text": "naïve ✓"}, {"n": 1}])
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    fast, exact = both_ways(data)
    assert fast == exact == []


def test_lines_of_another_shape_take_the_exact_path() -> None:
    records = ledger([{"n": n} for n in range(6)], trace_id=None, actor_id=None)
    records[1]["extra"] = "not hashed"  # a field more: ELEANOR's hash covers its eight
    records[2]["event"] = 7  # not a string: altered
    del records[3]["actor_id"]  # a field less: read as None, as ELEANOR's .get does
    decoded = decode_lines(encode(records).splitlines())
    assert [d is None for d in decoded] == [False, True, True, True, False, False]
    fast, exact = both_ways(encode(records))
    assert fast == exact == [("tampered", 2)]


def test_a_key_written_twice_is_read_as_json_reads_it() -> None:
    records = ledger([{"n": n} for n in range(3)])
    lines = encode(records).decode().splitlines()
    # The stored payload, then a second "payload" key: json keeps the last one.
    lines[1] = lines[1][:-1] + ', "payload": {"n": 99}}'
    assert parse_line(lines[1].encode())["payload"] == {"n": 99}  # type: ignore[index]
    fast, exact = both_ways(("\n".join(lines) + "\n").encode())
    assert fast == exact == [("tampered", 1), ("tampered", 1)]


def test_each_kind_of_alteration_is_found_by_the_fast_reader() -> None:
    records = ledger([{"n": n, "score": 0.12} for n in range(8)])
    records[1]["payload"]["n"] = 100  # payload: both hashes break
    records[3]["timestamp"] = "2027-01-01T00:00:00Z"  # a field: record_hash breaks
    records[5]["payload_hash"] = "0" * 64  # the stored hash: both break
    decoded = decode_lines(encode(records).splitlines())
    assert None not in decoded  # every line took the fast path; the problems are its own
    checked = check_lines(
        [d for d in decoded if d is not None], encode(records).splitlines(), 0, parse_line
    )
    assert [(p.kind, p.position) for p in checked.problems] == [
        ("tampered", 1),
        ("tampered", 1),
        ("tampered", 3),
        ("tampered", 5),
        ("tampered", 5),
    ]
    fast, exact = both_ways(encode(records))
    assert fast == exact


def test_the_file_is_scanned_once_within_a_check_while_writes_go_on(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = ledger([{"n": n} for n in range(6)])
    path.write_bytes(encode(records[:4]))
    source = JsonlSource(path)
    with source.pinned():
        assert source.count() == 4
        with path.open("ab") as out:
            out.write(encode(records[4:]))
        # The same reading for the whole check: its chain and count agree with its read-back.
        assert source.count() == 4 and len(source.read("t-", [])) == 4
        chain = source.chain()
        assert chain is not None and chain.records == 4
    assert source.count() == 6  # the next check reads the file as it is
