"""Hash-chain verification: intact, tampered, gaps, forks, reordering; both formats."""

from __future__ import annotations

import hashlib
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from drillbook.ledger import chain as chain_module
from drillbook.ledger.chain import (
    ELEANOR_GENESIS,
    eleanor_record,
    eleanor_record_hash,
    verify_eleanor_ledger,
    verify_evidence_chain,
)
from drillbook.ledger.sources import JsonlSource
from eleanor_reference.evidence import (
    GENESIS_HASH,
    payload_hash,
    record_hash,
    verify_chain,
)


def evidence_chain(size: int, *, start_prev: str = GENESIS_HASH) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = start_prev
    for seq in range(size):
        trace_id = f"drill-r-{seq}"
        payload = {"trace_id": trace_id, "input": f"write {seq}", "context": {"seq": seq}}
        p_hash = payload_hash(payload)
        r_hash = record_hash(trace_id, p_hash, prev)
        records.append(
            {
                "trace_id": trace_id,
                "payload": payload,
                "payload_hash": p_hash,
                "prev_hash": prev,
                "record_hash": r_hash,
            }
        )
        prev = r_hash
    return records


def kinds(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(p.kind, p.position) for p in verify_evidence_chain(records).problems]


# --------------------------------------------------------------------------- evidence_records


def test_record_hash_is_sha256_of_the_canonical_json_of_its_three_fields() -> None:
    # record_hash writes the canonical JSON out directly (it runs once per record verified):
    # it must be byte for byte what json.dumps gives, whatever the strings hold.
    rng = random.Random(7)
    alphabet = string.printable + 'é€"\\\x00\x1f\u2028🙂'
    for _ in range(2000):
        trace_id, p_hash, prev = (
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3)
        )
        linked = {"trace_id": trace_id, "payload_hash": p_hash, "prev_hash": prev}
        text = json.dumps(linked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert record_hash(trace_id, p_hash, prev) == hashlib.sha256(text.encode()).hexdigest()


def test_intact_chain() -> None:
    records = evidence_chain(10)
    report = verify_evidence_chain(records)

    assert report.intact
    assert report.records == 10
    assert report.last_hash == records[-1]["record_hash"]
    assert verify_chain(records) == []  # the reference service's own verifier agrees


def test_empty_chain() -> None:
    report = verify_evidence_chain([])

    assert report.intact and report.records == 0 and report.last_hash == GENESIS_HASH


def test_tampered_payload_is_located() -> None:
    records = evidence_chain(10)
    records[4]["payload"]["input"] = "something else"

    assert kinds(records) == [("tampered", 4)]
    assert verify_chain(records)  # and the reference verifier sees it too


def test_tampered_record_hash_is_located() -> None:
    records = evidence_chain(10)
    records[4]["record_hash"] = "f" * 64

    # The record no longer hashes to what it says, and its successor links to a record that
    # is no longer there.
    assert kinds(records) == [("tampered", 4), ("gap", 5)]


def test_rewritten_record_with_fresh_hashes_breaks_the_next_link() -> None:
    records = evidence_chain(10)
    rewritten = dict(records[4], payload={"input": "forged"})
    rewritten["payload_hash"] = payload_hash(rewritten["payload"])
    rewritten["record_hash"] = record_hash(
        rewritten["trace_id"], rewritten["payload_hash"], rewritten["prev_hash"]
    )
    records[4] = rewritten

    assert kinds(records) == [("gap", 5)]


def test_missing_record_is_a_gap_at_its_successor() -> None:
    records = evidence_chain(10)
    del records[6]

    report = verify_evidence_chain(records)
    assert [(p.kind, p.position, p.trace_id) for p in report.problems] == [("gap", 6, "drill-r-7")]
    assert "missing" in report.problems[0].detail


def test_missing_first_records_are_a_gap_at_the_start() -> None:
    records = evidence_chain(10)[3:]

    assert kinds(records) == [("gap", 0)]
    # ... unless a segment is verified from the hash it starts after.
    segment = verify_evidence_chain(records, genesis=records[0]["prev_hash"])
    assert segment.intact


def test_reordered_records_are_located() -> None:
    records = evidence_chain(10)
    records[4], records[5] = records[5], records[4]

    assert kinds(records) == [("reordered", 4), ("reordered", 5), ("reordered", 6)]


def test_fork_is_located() -> None:
    records = evidence_chain(10)
    # A second record linking to record 3: two histories after it.
    alternative = evidence_chain(1, start_prev=records[3]["record_hash"])[0]
    alternative["trace_id"] = "drill-r-alt"
    alternative["record_hash"] = record_hash(
        "drill-r-alt", alternative["payload_hash"], alternative["prev_hash"]
    )
    alternative["payload"]["trace_id"] = alternative["payload"]["trace_id"]
    records.append(alternative)

    report = verify_evidence_chain(records)
    assert [(p.kind, p.position) for p in report.problems] == [("fork", 10)]
    assert "record #4" in report.problems[0].detail


def test_a_second_genesis_is_a_fork() -> None:
    records = evidence_chain(5) + evidence_chain(3)

    assert ("fork", 5) in kinds(records)


def test_report_figures_and_description() -> None:
    records = evidence_chain(6)
    records[2]["payload"]["input"] = "x"
    report = verify_evidence_chain(records)

    figures = report.figures()
    assert figures["intact"] is False
    assert figures["tampered"] == 1
    assert figures["gaps"] == figures["forks"] == figures["reordered"] == 0
    assert "tampered at record #2 (trace_id='drill-r-2')" in report.describe()


def test_parallel_verification_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain_module, "_PARALLEL_MINIMUM", 4)
    records = evidence_chain(40)
    records[33]["payload"]["input"] = "altered"
    del records[12]

    single = verify_evidence_chain(records, workers=1)
    parallel = verify_evidence_chain(records, workers=2)
    assert [(p.kind, p.position) for p in parallel.problems] == [("gap", 12), ("tampered", 32)]
    assert parallel == single


# --------------------------------------------------------------------------- ELEANOR V8


def eleanor_chain(size: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = ELEANOR_GENESIS
    for seq in range(size):
        record = eleanor_record(
            event_id=f"{seq:032x}",
            timestamp=f"2026-11-27T15:40:{seq % 60:02d}Z",
            event="deliberation",
            payload={"trace_id": f"t-{seq}", "decision": "allow", "note": "résumé ✓", "n": seq},
            prev_hash=prev,
            trace_id=f"t-{seq}" if seq % 3 else None,
            actor_id="drillbook" if seq % 2 else None,
        )
        records.append(record)
        prev = record["record_hash"]
    return records


def test_eleanor_record_hash_is_the_one_eleanor_computes() -> None:
    # record_hash = sha256 of the canonical JSON of every field but record_hash (ELEANOR V8's
    # engine/security/ledger.py); the verifier assembles that text itself, so check both agree.
    records = eleanor_chain(12)
    for record in records:
        assert eleanor_record_hash(record) == record["record_hash"]
    assert verify_eleanor_ledger(records).intact


def test_eleanor_chain_problems_are_located() -> None:
    records = eleanor_chain(12)
    records[3]["payload"]["decision"] = "deny"
    del records[7]
    records[9]["actor_id"] = "someone else"

    report = verify_eleanor_ledger(records)
    # ELEANOR's record_hash covers the payload too: an altered payload breaks both hashes.
    assert [(p.kind, p.position) for p in report.problems] == [
        ("tampered", 3),
        ("tampered", 3),
        ("gap", 7),
        ("tampered", 9),
    ]
    assert "payload was altered" in report.problems[0].detail


def test_eleanor_fork_is_located() -> None:
    records = eleanor_chain(6)
    twin = eleanor_record(
        event_id="f" * 32,
        timestamp="2026-11-27T16:00:00Z",
        event="deliberation",
        payload={"x": 1},
        prev_hash=records[2]["record_hash"],
    )
    records.append(twin)

    assert [(p.kind, p.position) for p in verify_eleanor_ledger(records).problems] == [("fork", 6)]


def test_jsonl_source_verifies_an_eleanor_ledger_file(tmp_path: Path) -> None:
    records = eleanor_chain(8)
    path = tmp_path / "stone_tablet_ledger.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    source = JsonlSource(path)

    report = source.chain()
    assert report is not None and report.intact and report.format == "eleanor_ledger"
    stored = source.read("t-", [])
    assert [s.trace_id for s in stored] == [r["trace_id"] for r in records if r["trace_id"]]
    assert source.count() == 8

    records[5]["payload"]["n"] = 500
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    report = source.chain()
    assert report is not None and [(p.kind, p.position) for p in report.problems] == [
        ("tampered", 5),
        ("tampered", 5),
    ]
