"""Data integrity in the verdict: the pre-fault chain head held after recovery, every JSON-lines
record verified with the first bad line named, the HTTP read-back held to what was written."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.config.model import LedgerSettings, Objectives
from drillbook.ledger.chain import ELEANOR_GENESIS, eleanor_record
from drillbook.ledger.heads import ChainHead, check_head
from drillbook.ledger.jsonl_scan import scan_jsonl
from drillbook.ledger.readback import check_content, content_differences, write_body
from drillbook.ledger.sources import HttpSource, JsonlSource
from drillbook.ledger.writer import LedgerWriter
from tests.unit.test_drill_engine import down_between, make_drill


def chained(
    specs: list[tuple[str | None, dict[str, Any]]], prev: str = ELEANOR_GENESIS
) -> list[dict[str, Any]]:
    """ELEANOR ledger records for (trace_id, payload) pairs, linked from `prev`."""
    records: list[dict[str, Any]] = []
    for seq, (trace_id, payload) in enumerate(specs):
        record = eleanor_record(
            event_id=f"evt-{seq:06d}",
            timestamp=f"2026-12-06T08:00:{seq % 60:02d}Z",
            event="deliberation.completed",
            trace_id=trace_id,
            actor_id="governance-engine",
            payload=payload,
            prev_hash=prev,
        )
        records.append(record)
        prev = record["record_hash"]
    return records


def history(size: int, *, note: str = "kept") -> list[tuple[str | None, dict[str, Any]]]:
    return [(f"svc-{n}", {"n": n, "note": note, "score": 0.25}) for n in range(size)]


def lines_of(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


# --------------------------------------------------------------------------- the head, pure


def head(position: int, digest: str) -> ChainHead:
    return ChainHead("evidence_records", position, digest, f"t-{position}", "id")


def test_a_head_still_in_the_chain_holds_even_where_it_moved() -> None:
    hashes, traces, ids = ["a", "b", "c", "d"], ["t-1", "t-2", "t-3", "t-4"], [1, 2, 3, 4]
    held = check_head(head(2, "b"), hashes, traces, ids.__getitem__, where="id")
    assert held.holds and held.found is not None and held.found.position == 2
    assert "still there" in held.describe() and "moved" not in held.describe()
    assert held.head_after is not None and held.head_after.record_hash == "d"

    renumbered = check_head(head(2, "b"), hashes, traces, [10, 11, 12, 13].__getitem__, where="id")
    assert renumbered.holds and "moved from id 2 to 11" in renumbered.describe()


def test_a_head_gone_from_the_chain_fails_with_what_is_there_instead() -> None:
    rewritten = check_head(
        head(2, "b"), ["a", "x", "y"], ["t-1", "t-2", "t-3"], [1, 2, 3].__getitem__, where="id"
    )
    assert not rewritten.holds and rewritten.found is None
    assert rewritten.at_position is not None and rewritten.at_position.record_hash == "x"
    assert "gone from the chain: history truncated or rewritten" in rewritten.describe()
    figures = rewritten.figures()
    assert figures["holds"] is False
    assert figures["before"] == {"id": 2, "trace_id": "t-2", "record_hash": "b"}
    assert figures["at_position"]["record_hash"] == "x" and figures["after"]["id"] == 3

    truncated = check_head(head(3, "c"), ["a", "b"], ["t-1", "t-2"], [1, 2].__getitem__, where="id")
    assert not truncated.holds and truncated.at_position is None
    assert truncated.head_after is not None and truncated.head_after.position == 2
    assert "nothing holds its place (the chain ends at id 2" in truncated.describe()


# --------------------------------------------------------------------------- the head, a file


def test_a_truncated_ledger_keeps_every_link_but_loses_its_head() -> None:
    records = chained(history(30))
    before = scan_jsonl(lines_of(records)).head()
    assert before is not None and (before.position, before.where) == (30, "line")
    assert before.record_hash == records[-1]["record_hash"]

    after = scan_jsonl(lines_of(records[:24]))
    assert after.chain is not None and not after.chain.problems  # every link holds
    report = after.anchored(before)
    assert report is not None and not report.intact
    assert report.head is not None and report.head.head_after is not None
    assert report.head.head_after.position == 24
    assert "is gone from the chain" in report.describe()


def test_history_rewritten_with_fresh_hashes_is_found_by_the_head_alone() -> None:
    records = chained(history(30))
    before = scan_jsonl(lines_of(records)).head()
    assert before is not None
    # From record 10 on, the records are remade with another payload and fresh hashes: a chain
    # every verifier finds intact.
    rewritten = records[:10] + chained(
        history(30, note="rewritten")[10:], records[9]["record_hash"]
    )

    scanned = scan_jsonl(lines_of(rewritten))
    assert scanned.chain is not None and scanned.chain.intact  # on its own: nothing wrong
    report = scanned.anchored(before)
    assert report is not None and not report.intact
    assert report.head is not None and report.head.at_position is not None
    assert report.head.at_position.position == 30  # the line holds another record now
    assert report.head.at_position.record_hash != before.record_hash
    assert report.figures()["head"]["holds"] is False


def test_a_ledger_that_only_grew_holds_its_head() -> None:
    records = chained(history(40))
    before = scan_jsonl(lines_of(records[:25])).head()
    report = scan_jsonl(lines_of(records)).anchored(before)
    assert report is not None and report.intact
    assert report.head is not None and report.head.found is not None
    assert report.head.found.position == 25


def test_a_ledger_file_that_is_gone_does_not_hold_its_head(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(lines_of(chained(history(5))))
    source = JsonlSource(path)
    before = source.head()
    assert before is not None
    path.unlink()
    report = source.chain(before)
    assert report is not None and not report.intact and report.records == 0


# --------------------------------------------------------------------------- every record, its line


def test_a_bad_record_is_found_at_its_line_wherever_it_is() -> None:
    # 5,000 records span two batches of the reader: each record is verified, none sampled.
    records = chained(history(5000))
    for index in (0, 1, 2047, 4095, 4096, 4999):
        altered = [dict(record) for record in records]
        altered[index]["payload"] = {**altered[index]["payload"], "note": "altered"}
        report = scan_jsonl(lines_of(altered)).chain
        assert report is not None
        assert {(p.kind, p.line) for p in report.problems} == {("tampered", index + 1)}, index
        assert report.first_bad_line == index + 1


def test_the_line_is_the_files_line_with_blank_and_unreadable_lines_around() -> None:
    records = chained(history(12))
    records[8]["event"] = "deliberation.rewritten"  # record_hash no longer matches
    text = lines_of(records).decode().splitlines(keepends=True)
    # Two blank lines before the 4th record, and one torn record inserted before the 7th.
    text[3:3] = ["\n", "\n"]
    text.insert(8, '{"event_id": "evt-9", "payload": {"n"\n')
    scanned = scan_jsonl("".join(text).encode())

    report = scanned.chain
    assert report is not None and scanned.count == 12
    assert [(p.kind, p.line) for p in report.problems] == [("unreadable", 9), ("tampered", 12)]
    assert report.first_bad_line == 9
    assert "unreadable at line 9" in report.describe()
    assert "tampered at line 12 (trace_id='svc-8')" in report.describe()
    assert report.figures()["first_bad_line"] == 9
    assert scanned.stored("svc-8")[0].position == 12  # read back at its line too


def test_a_torn_last_line_is_a_write_in_flight_not_a_problem() -> None:
    data = lines_of(chained(history(6))) + b'{"event_id": "evt-6", "timest'
    scanned = scan_jsonl(data)
    assert scanned.torn_tail and scanned.count == 6
    assert scanned.chain is not None and scanned.chain.intact


# --------------------------------------------------------------------------- HTTP read-back


def test_a_body_read_back_is_held_to_the_fields_written() -> None:
    sent = write_body("run", 3, "drill-run-3")
    as_stored = {"id": 7, "trace_id": "drill-run-3", "body": dict(sent), "replica": "a"}
    assert content_differences(sent, as_stored) == ()
    assert content_differences(sent, {"trace_id": "drill-run-3", "payload": {**sent}}) == ()
    altered = {**as_stored, "body": {**sent, "input": "something else"}}
    assert content_differences(sent, altered) == ("input",)
    foreign = {"trace_id": "drill-run-4", "input": sent["input"], "context": {"sequence": 4}}
    assert content_differences(sent, foreign) == ("trace_id", "context")
    assert content_differences(sent, {"status": "stored"}) is None  # nothing to compare


class NotesStore:
    """POST /notes keeps the body under its trace id; GET /notes/{trace_id} answers it whole,
    as a notes service does (its own fields around the body written)."""

    def __init__(self) -> None:
        self.notes: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            trace_id = body.pop("trace_id")
            with self.lock:
                note = {"id": len(self.notes) + 1, "trace_id": trace_id, "body": body}
                self.notes[trace_id] = note
            return httpx.Response(201, json=note)
        trace_id = request.url.path.rsplit("/", 1)[1]
        with self.lock:
            kept = self.notes.get(trace_id)
        return httpx.Response(200, json=kept) if kept else httpx.Response(404)


def http_writer(store: NotesStore, tmp_path: Path, writes: int) -> LedgerWriter:
    def client() -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(store.handler))

    return LedgerWriter(
        LedgerSettings(write_path="/notes", rate_per_second=400.0, max_writes=writes),
        objectives=Objectives(),
        base_url="http://notes.test",
        source=HttpSource("http://notes.test", "/notes/{trace_id}", client=client()),
        ack_dir=tmp_path / "ledger",
        client=client(),
    )


def finished(ledger: LedgerWriter, timeout: float = 5.0) -> None:
    ledger.start()
    deadline = time.monotonic() + timeout
    while ledger.stopped_because is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ledger.stopped_because is not None, "the writer did not finish its writes"


@pytest.mark.parametrize("alter", [False, True])
def test_an_http_record_read_back_altered_fails_the_data_check(tmp_path: Path, alter: bool) -> None:
    store = NotesStore()
    ledger = http_writer(store, tmp_path, writes=8)
    finished(ledger)
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))
    drill.fault_at = time.monotonic()
    if alter:  # e.g. a restore from another run's backup: the note is there, not this one
        third = store.notes[f"{ledger.prefix}3"]
        third["body"] = {**third["body"], "input": "drillbook ledger write 33"}

    breaches = ledger.objective_breaches(drill)
    ledger.stop()
    content = ledger.figures()["read_back_content"]["HTTP /notes/{trace_id}"]
    assert content["compared"] == 8
    if not alter:
        assert breaches == [] and content["altered"] == 0
        return
    assert breaches == [
        f"Data integrity breach: HTTP /notes/{{trace_id}}: 1 of 8 write(s) read back with other "
        f"content than was written (first: {ledger.prefix}3: input)"
    ]
    assert content["first_altered"] == [{"trace_id": f"{ledger.prefix}3", "fields": ["input"]}]


def test_records_not_read_back_whole_are_not_compared() -> None:
    from drillbook.ledger.checker import StoredRecord

    assert check_content([StoredRecord("drill-r-1", 1, "h")], "r", "drill-r-") is None


# --------------------------------------------------------------------------- the writer's verdict


class LedgerService:
    """A service that appends every write to an ELEANOR ledger file (its acknowledgement has
    no record_hash, as ELEANOR's /deliberate has none): only the chain can show its history."""

    def __init__(self, path: Path, history_size: int) -> None:
        self.path = path
        self.records = chained(history(history_size))
        self.lock = threading.Lock()
        path.write_bytes(lines_of(self.records))

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self.lock:
            record = chained(
                [(body["trace_id"], {"input": body["input"]})], self.records[-1]["record_hash"]
            )[0]
            self.records.append(record)
            with self.path.open("a") as out:
                out.write(json.dumps(record) + "\n")
        return httpx.Response(200, json={"trace_id": body["trace_id"]})

    def rewrite_from(self, index: int) -> None:
        """Every record from `index` on remade, the first with another payload: the drill's
        writes are all still there, under their trace ids, in a chain with every link."""
        specs = [(r["trace_id"], dict(r["payload"])) for r in self.records[index:]]
        specs[0] = (specs[0][0], {**specs[0][1], "note": "rewritten"})
        remade = chained(specs, self.records[index - 1]["record_hash"])
        self.records = self.records[:index] + remade
        self.path.write_bytes(lines_of(self.records))


@pytest.mark.parametrize("rewrite", [False, True])
def test_history_rewritten_under_the_drill_fails_its_data_check(
    tmp_path: Path, rewrite: bool
) -> None:
    service = LedgerService(tmp_path / "ledger.jsonl", history_size=20)
    client = httpx.Client(transport=httpx.MockTransport(service.handler))
    ledger = LedgerWriter(
        LedgerSettings(write_path="/deliberate", rate_per_second=400.0, max_writes=5),
        objectives=Objectives(),
        base_url="http://eleanor.test",
        source=JsonlSource(service.path),
        ack_dir=tmp_path / "acks",
        client=client,
    )
    finished(ledger)
    head_hash = service.records[19]["record_hash"]
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))
    drill.fault_at = time.monotonic()
    if rewrite:
        service.rewrite_from(12)

    breaches = ledger.objective_breaches(drill)
    ledger.stop()
    figures = ledger.figures()
    heads = figures["chain_heads"][f"file {service.path}"]
    assert heads["before"] == {"line": 20, "trace_id": "svc-19", "record_hash": head_hash}
    assert heads["after"]["line"] == 25  # the drill's five writes after it
    assert figures["lost"] == 0  # every write is there, whatever happened to the history
    if not rewrite:
        assert breaches == [] and figures["chain"]["head"]["holds"] is True
        return
    assert len(breaches) == 1, breaches
    assert breaches[0].startswith(f"Data integrity breach: file {service.path}: 25 records")
    assert "the head before the fault (line 20, trace_id='svc-19'" in breaches[0]
    assert "is gone from the chain: history truncated or rewritten" in breaches[0]
    assert figures["chain"]["head"]["at_position"]["line"] == 20
