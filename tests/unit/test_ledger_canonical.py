"""The fast canonical encoder writes exactly json's bytes (or raises as json does), value by value.

The ledger's hashes are defined over `json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=True)` (evidence.canonical_json, and ELEANOR V8's encoder with default=str);
drillbook/ledger/canonical.py takes orjson's bytes where they are provably the same. These
tests compare the two on every kind of value where they could differ.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import random
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from drillbook.ledger import canonical
from drillbook.ledger import chain as chain_module
from drillbook.ledger.canonical import canonical_bytes, canonical_many
from drillbook.ledger.chain import (
    ELEANOR_GENESIS,
    eleanor_record,
    verify_eleanor_ledger,
    verify_evidence_chain,
)
from eleanor_reference.evidence import (
    GENESIS_HASH,
    canonical_json,
    payload_hash,
    record_hash,
    verify_chain,
)

ELEANOR = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
).encode
"""ELEANOR V8's canonical encoder (as drillbook.ledger.chain has it)."""
ENCODERS: dict[str, Callable[[Any], str]] = {"reference": canonical_json, "eleanor": ELEANOR}

# Characters where orjson and json part ways, or that need escaping: quote, backslash, slash,
# control characters, DEL, Latin-1, BMP, line separator, private use, astral (surrogate pair),
# and text that looks like the JSON the checks search for.
ALPHABET = 'ab"\\/\x00\x08\x1f\x7f\x80é€\u2028\ud7ff\ue000\uffff🙂 null1.5e3:,[]{}'
SPECIAL_INTS = [0, -1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, 1e16, 1e-5, 123.0, 1e300, 5e-324, float("nan"), float("inf")]


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    LARGE = 3


class Name(enum.StrEnum):
    ADA = "ada"


class Text(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


def reference_bytes(encode: Callable[[Any], str], value: Any) -> bytes | type[Exception]:
    """What the reference encoder gives: the bytes, or the type of what it raises."""
    try:
        return encode(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return type(exc)


def fast_bytes(encode: Callable[[Any], str], value: Any) -> bytes | type[Exception]:
    try:
        return canonical_bytes(value, encode)
    except (TypeError, ValueError) as exc:
        return type(exc)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 12 if depth < 4 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice(SPECIAL_INTS)
    if kind == 3:
        return rng.choice(SPECIAL_FLOATS)
    if kind == 4:
        return rng.randint(-(10**6), 10**6)
    if kind in (5, 6, 7):
        return random_text(rng)
    if kind in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 10:
        return tuple(random_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_random_nested_values_encode_to_the_reference_bytes(name: str) -> None:
    encode = ENCODERS[name]
    rng = random.Random(20261127)
    values = [random_value(rng) for _ in range(6000)]
    expected = [reference_bytes(encode, value) for value in values]

    assert [fast_bytes(encode, value) for value in values] == expected
    # In batches too (a batch with one odd value is re-encoded value by value), wherever the
    # batches fall; values json refuses are left out (canonical_many raises as json does).
    encodable = [v for v, e in zip(values, expected, strict=True) if isinstance(e, bytes)]
    for size in (1, 7, 256):
        batches = [encodable[i : i + size] for i in range(0, len(encodable), size)]
        got = [text for batch in batches for text in canonical_many(batch, encode)]
        assert got == [e for e in expected if isinstance(e, bytes)]
    # The comparison means something: most values took orjson's path, many with text beyond
    # ASCII, nulls or nesting, and the rest (floats, big ints, odd keys) json's.
    fast = [value for value in values if canonical._orjson_batch([value]) is not None]
    assert 0.5 * len(values) < len(fast) < 0.95 * len(values)
    assert sum(1 for v in fast if not json.dumps(v, ensure_ascii=False).isascii()) > 500


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, 2, {"d": None, "c": True}], "B": "x", "_": {}},
        {"text": 'résumé ✓ 🙂 \u2028 \x7f \x00 "quoted" back\\slash /'},
        {"é": 1, "e": 2, "🙂": 3, "\uffff": 4},  # keys beyond ASCII sort by code point
        {"big": 2**64 - 1, "bigger": 2**64, "small": -(2**63) - 1},
        {"float": 1.0, "tiny": 1e-05, "huge": 1e16, "negative zero": -0.0},
        {"nan": float("nan")},
        {"infinity": float("-inf")},
        {"none": None, "nested": [[[None]]]},
        {1: "int key", 2: "other"},
        {True: "bool key"},
        {"tuple": (1, "two", None)},
        [1, "top-level list", None],
        "a bare string é",
        1.5,
        12345678901234567890,
        None,
        {"depth": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ],
)
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_chosen_values_encode_to_the_reference_bytes(name: str, value: Any) -> None:
    encode = ENCODERS[name]
    assert fast_bytes(encode, value) == reference_bytes(encode, value)


@pytest.mark.parametrize(
    "value",
    [
        Colour.RED,  # orjson writes "red"; json raises, ELEANOR's writes "Colour.RED"
        {"colour": Colour.RED},
        Size.LARGE,
        Name.ADA,
        {"id": uuid.UUID(int=7)},
        {"when": datetime.datetime(2026, 11, 27, 15, 40, tzinfo=datetime.UTC)},
        {"day": datetime.date(2026, 11, 27)},
        {"point": Point(1)},
        OrderedDict(a=1),
        {"text": Text("sub")},
        {Text("key"): 1},
        {"fragment": orjson.Fragment(b'{"a":1}')},
        {"set": {1}},
        {"bytes": b"x"},
    ],
    ids=repr,
)
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_types_json_does_not_know_get_what_json_gives(name: str, value: Any) -> None:
    encode = ENCODERS[name]
    assert fast_bytes(encode, value) == reference_bytes(encode, value)


def test_deeper_than_orjson_nests_goes_to_json() -> None:
    value: Any = 0
    for _ in range(300):  # orjson stops at 255 levels
        value = [value]
    assert canonical_bytes(value, canonical_json) == canonical_json(value).encode()


def test_a_cycle_raises_as_json_does() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_bytes(looped, canonical_json)


def test_orjson_floats_are_not_json_floats_so_floats_go_to_json() -> None:
    # Why floats are refused by type rather than searched for in the output: orjson's floats
    # differ from repr in where they switch to exponents (tests above), and NaN is written as
    # null, indistinguishable from None there. This pins the formatting difference down.
    assert orjson.dumps(1e-05) == b"0.00001" and json.dumps(1e-05) == "1e-05"
    assert orjson.dumps(1e-07) == b"1e-7" and json.dumps(1e-07) == "1e-07"
    assert orjson.dumps(float("nan")) == b"null"


# --------------------------------------------------------------------------- in the chains


def test_chains_of_random_payloads_verify_and_locate_tampering() -> None:
    # The verifiers hash through canonical_many; the chains are built with the definitions
    # (evidence.payload_hash/record_hash, json's encoder for ELEANOR): every record verifies,
    # whatever its payload and trace id hold, and one changed character is found where it is.
    rng = random.Random(11)
    payloads = [
        {"trace_id": random_text(rng), "value": random_value(rng), "n": n} for n in range(400)
    ]
    payloads = [p for p in payloads if isinstance(reference_bytes(canonical_json, p), bytes)]
    evidence: list[dict[str, Any]] = []
    eleanor: list[dict[str, Any]] = []
    prev, eleanor_prev = GENESIS_HASH, ELEANOR_GENESIS
    for n, payload in enumerate(payloads):
        trace_id = f"drill-{random_text(rng)}-{n}"  # quotes, controls, non-ASCII: escaped
        p_hash = payload_hash(payload)
        r_hash = record_hash(trace_id, p_hash, prev)
        evidence.append(
            {
                "trace_id": trace_id,
                "payload": payload,
                "payload_hash": p_hash,
                "prev_hash": prev,
                "record_hash": r_hash,
            }
        )
        prev = r_hash
        record = eleanor_record(
            event_id=f"{n:032x}",
            timestamp=random_text(rng),
            event="deliberation",
            payload=payload,
            prev_hash=eleanor_prev,
            trace_id=trace_id if n % 3 else None,
            actor_id=random_text(rng) if n % 2 else None,
        )
        eleanor.append(record)
        eleanor_prev = record["record_hash"]

    assert verify_evidence_chain(evidence).intact and verify_chain(evidence) == []
    assert verify_eleanor_ledger(eleanor).intact
    target = len(payloads) // 2
    evidence[target]["payload"] = dict(evidence[target]["payload"], n=-1)
    eleanor[target]["payload"] = dict(eleanor[target]["payload"], n=-1)
    assert [(p.kind, p.position) for p in verify_evidence_chain(evidence).problems] == [
        ("tampered", target)
    ]
    assert [(p.kind, p.position) for p in verify_eleanor_ledger(eleanor).problems] == [
        ("tampered", target),
        ("tampered", target),
    ]


def test_a_fork_that_keeps_every_link_is_still_found() -> None:
    # Every link holds, yet records #1 and #3 share a predecessor: record #2 claims record
    # #0's hash as its own. That takes a record whose hash is not its own (tampered), which is
    # when the verifier looks for such forks (see _verify).
    records = evidence_chain_of(4)
    forged = dict(records[2], record_hash=records[0]["record_hash"])
    successor = dict(records[3], prev_hash=forged["record_hash"])
    successor["record_hash"] = record_hash(
        successor["trace_id"], successor["payload_hash"], successor["prev_hash"]
    )
    records[2:] = [forged, successor]

    report = verify_evidence_chain(records)
    assert [(p.kind, p.position) for p in report.problems] == [("tampered", 2), ("fork", 3)]


def evidence_chain_of(size: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for n in range(size):
        payload = {"n": n}
        p_hash = payload_hash(payload)
        r_hash = record_hash(f"t-{n}", p_hash, prev)
        records.append(
            {
                "trace_id": f"t-{n}",
                "payload": payload,
                "payload_hash": p_hash,
                "prev_hash": prev,
                "record_hash": r_hash,
            }
        )
        prev = r_hash
    return records


@pytest.mark.parametrize("batch", [1, 7, 1024])
def test_what_is_found_does_not_depend_on_the_batches(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # The verifiers work a batch at a time (chain._scan); positions, order and every kind of
    # problem come out the same whatever the batch size, in one process or in forked workers.
    monkeypatch.setattr(chain_module, "_SCAN_BATCH", batch)
    monkeypatch.setattr(chain_module, "_PARALLEL_MINIMUM", 4)
    records = evidence_chain_of(60)
    records[9]["payload"] = {"n": "altered"}
    records[20]["record_hash"] = "f" * 64
    records[33], records[34] = records[34], records[33]
    del records[50]
    expected = [
        ("tampered", 9),
        ("tampered", 20),
        ("gap", 21),
        ("reordered", 33),
        ("reordered", 34),
        ("reordered", 35),
        ("gap", 50),
    ]

    for workers in (1, 2):
        report = verify_evidence_chain(records, workers=workers)
        assert [(p.kind, p.position) for p in report.problems] == expected
        assert report.records == 59 and report.last_hash == records[-1]["record_hash"]
