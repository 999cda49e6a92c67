"""The ledger writer and the drill's data objectives, on a scripted target.

The target here is an httpx MockTransport over a dict (fast, no server): the same writer runs
against the real reference service in the monthly database drills and in
tests/integration/test_database_backups.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from drillbook.config.model import LedgerSettings, Objectives
from drillbook.core.companions import ObjectiveJudge
from drillbook.errors import DataLossDetected, InvalidDrill, ObjectiveBreached, VerificationFailed
from drillbook.ledger.acks import read_ack_file
from drillbook.ledger.chain import ChainReport
from drillbook.ledger.checker import StoredRecord
from drillbook.ledger.configuration import ConfigurationChecksums
from drillbook.ledger.heads import ChainHead
from drillbook.ledger.sources import ReadBackFailed
from drillbook.ledger.writer import LedgerWriter
from tests.unit.test_drill_engine import down_between, fault, make_drill


class ScriptedStore:
    """A write endpoint and its store; `down` makes it answer 503, `broken` unreadable."""

    def __init__(self) -> None:
        self.records: dict[str, int] = {}
        self.down = False
        self.broken = False
        self.description = "scripted store"
        self._lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"error": "database unavailable"})
        body = json.loads(request.content)
        with self._lock:
            position = self.records.setdefault(body["trace_id"], len(self.records))
        return httpx.Response(
            200, json={"record_hash": f"h-{body['trace_id']}", "sequence": position}
        )

    # RecordSource
    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        if self.broken:
            raise ReadBackFailed("the scripted store is unreadable")
        with self._lock:
            items = sorted(self.records.items(), key=lambda kv: kv[1])
        return [StoredRecord(t, p, f"h-{t}") for t, p in items if t.startswith(prefix)]

    def count(self) -> int | None:
        if self.broken:
            raise ReadBackFailed("the scripted store is unreadable")
        return len(self.records)

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        return None

    def head(self) -> ChainHead | None:
        return None


def writer(
    store: ScriptedStore, tmp_path: Path, *, max_writes: int = 20, rate: float = 400.0
) -> LedgerWriter:
    settings = LedgerSettings(write_path="/deliberate", rate_per_second=rate, max_writes=max_writes)
    return LedgerWriter(
        settings,
        objectives=Objectives(),
        base_url="http://target.test",
        source=store,
        ack_dir=tmp_path / "ledger",
        client=httpx.Client(transport=httpx.MockTransport(store.handler)),
    )


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_writes_are_numbered_bounded_and_every_acknowledgement_is_kept(tmp_path: Path) -> None:
    store = ScriptedStore()
    ledger = writer(store, tmp_path, max_writes=20)
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    ledger.stop()

    assert ledger.stopped_because == "ledger.max_writes (20)"
    acks, failures, attempted = ledger.snapshot()
    assert [a.seq for a in acks] == list(range(1, 21))
    assert attempted == [f"{ledger.prefix}{n}" for n in range(1, 21)]
    assert failures == []
    assert all(a.ack_monotonic >= a.sent_monotonic for a in acks)
    assert acks[0].record_hash == f"h-{ledger.prefix}1" and acks[0].store_sequence == 0
    on_disk, failed_on_disk = read_ack_file(ledger.ack_path)
    assert on_disk == acks and failed_on_disk == []
    figures = ledger.figures()
    assert (figures["acknowledged"], figures["lost"], figures["rpo_seconds"]) == (20, 0, 0.0)


def test_refused_writes_are_not_acknowledged(tmp_path: Path) -> None:
    store = ScriptedStore()
    store.down = True
    ledger = writer(store, tmp_path, max_writes=5)
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    ledger.stop()

    acks, failures, _ = ledger.snapshot()
    assert acks == []
    assert [f.error for f in failures] == ["HTTP 503"] * 5


def test_the_rate_is_steady(tmp_path: Path) -> None:
    store = ScriptedStore()
    ledger = writer(store, tmp_path, max_writes=10, rate=50.0)
    started = time.monotonic()
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    ledger.stop()

    # 10 writes at 50/s: the 10th is due 0.18 s after the first, never before.
    assert time.monotonic() - started >= 0.18
    acks, _, _ = ledger.snapshot()
    assert acks[-1].sent_monotonic - acks[0].sent_monotonic >= 0.18 - 0.005


def test_a_lost_acknowledged_write_is_an_rpo_breach(tmp_path: Path) -> None:
    store = ScriptedStore()
    ledger = writer(store, tmp_path, max_writes=10)
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    del store.records[f"{ledger.prefix}4"]
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))
    drill.fault_at = time.monotonic()

    breaches = ledger.objective_breaches(drill)
    ledger.stop()
    assert len(breaches) == 1
    assert breaches[0].startswith("RPO breach: 1 acknowledged evidence record(s) lost, 0 allowed")
    assert f"first lost: {ledger.prefix}4" in breaches[0]
    figures = ledger.figures()
    assert figures["lost"] == 1 and figures["first_lost"][0]["seq"] == 4
    assert figures["rpo_seconds"] > 0
    names = [a.name for a in ledger.attachments()]
    assert names == ["ledger summary", "ledger first lost writes"]


def test_an_unreadable_store_stops_the_drill_before_the_fault(tmp_path: Path) -> None:
    store = ScriptedStore()
    store.broken = True
    ledger = writer(store, tmp_path)

    with pytest.raises(InvalidDrill, match="cannot read back its store before the drill"):
        ledger.start()


def test_an_unreadable_store_after_recovery_fails_verification(tmp_path: Path) -> None:
    store = ScriptedStore()
    ledger = writer(store, tmp_path, max_writes=3)
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    store.broken = True
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))

    with pytest.raises(VerificationFailed, match="data loss not measured"):
        ledger.objective_breaches(drill)
    ledger.stop()  # the final check reports the error instead of raising
    assert "unreadable" in ledger.figures()["check_error"]


# ------------------------------------------------------------------- drill.assert_objectives


class Judge:
    """A companion that judges data objectives with a scripted verdict."""

    name = "judge"

    def __init__(self, breaches: list[str]) -> None:
        self.breaches = breaches

    def start(self, drill: object) -> None: ...

    def stop(self, drill: object) -> None: ...

    def figures(self) -> dict[str, object]:
        return {"breaches": len(self.breaches)}

    def attachments(self) -> list[object]:
        return []

    def objective_breaches(self, drill: object) -> list[str]:
        return list(self.breaches)


def test_a_data_breach_fails_the_drill_as_rpo_breach(tmp_path: Path) -> None:
    drill, _, _ = make_drill(tmp_path, down_between(2.0, 4.0))
    judge = Judge(["RPO breach: 3 acknowledged evidence record(s) lost, 0 allowed"])
    assert isinstance(judge, ObjectiveJudge)
    drill.companions.append(judge)  # type: ignore[arg-type]
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()

    with pytest.raises(DataLossDetected) as info:
        drill.assert_objectives()
    assert str(info.value).startswith("RPO breach: 3 acknowledged evidence")
    assert isinstance(info.value, AssertionError)  # red, not broken
    assert "RPO breach" in (drill.objective_verdict or "")
    drill.finish()


def test_rto_and_rpo_breaches_are_reported_together(tmp_path: Path) -> None:
    import dataclasses

    from drillbook.config.loader import load_config

    base = load_config(None)
    strict = dataclasses.replace(
        base, objectives=dataclasses.replace(base.objectives, rto_critical_seconds=1.0)
    )
    drill, _, _ = make_drill(tmp_path, down_between(2.0, 6.0), config=strict)
    drill.companions.append(Judge(["RPO breach: configuration lost"]))  # type: ignore[arg-type]
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()

    with pytest.raises(ObjectiveBreached) as info:
        drill.assert_objectives()
    assert str(info.value).startswith("RTO breach")
    assert "; RPO breach: configuration lost" in str(info.value)
    drill.finish()


def test_no_breach_passes(tmp_path: Path) -> None:
    drill, _, _ = make_drill(tmp_path, down_between(2.0, 4.0))
    drill.companions.append(Judge([]))  # type: ignore[arg-type]
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()
    drill.assert_objectives()
    assert drill.figures()["judge"] == {"breaches": 0}
    drill.finish()


# --------------------------------------------------------------------------- configuration


def test_configuration_loss_is_an_rpo_breach(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("listen 1\n")
    (tmp_path / "b.conf").write_text("mode x\n")
    companion = ConfigurationChecksums(
        {"a.conf": tmp_path / "a.conf", "b.conf": tmp_path / "b.conf", "c.conf": tmp_path / "c"},
        objectives=Objectives(),
    )
    companion.start()
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))
    assert companion.objective_breaches(drill) == []

    (tmp_path / "a.conf").write_text("listen 2\n")
    (tmp_path / "b.conf").unlink()
    breaches = companion.objective_breaches(drill)
    assert len(breaches) == 1
    assert breaches[0].startswith("RPO breach: configuration lost: 2 of 3 declared file(s)")
    assert "a.conf changed" in breaches[0] and "b.conf missing" in breaches[0]
    figures = companion.figures()
    assert figures["absent_before"] == ["c.conf"]  # not there at the start: not counted
    assert figures["lost"] == 2


class DoublingStore(ScriptedStore):
    """Stores one write twice, and serves a broken hash chain."""

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        stored = super().read(prefix, trace_ids)
        return [*stored, StoredRecord(stored[2].trace_id, len(stored), stored[2].record_hash)]

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        from drillbook.ledger.chain import ChainProblem

        problem = ChainProblem("gap", 5, "trace-5", "prev_hash does not match")
        return ChainReport("evidence_records", 9, (problem,), "h-head")


def test_a_duplicated_write_and_a_broken_chain_fail_the_data_check(tmp_path: Path) -> None:
    store = DoublingStore()
    ledger = writer(store, tmp_path, max_writes=10)
    ledger.start()
    wait_for(lambda: ledger.stopped_because is not None)
    drill, _, _ = make_drill(tmp_path, down_between(1e9, 1e9))
    drill.fault_at = time.monotonic()

    breaches = ledger.objective_breaches(drill)
    ledger.stop()
    assert not any(b.startswith("RPO breach") for b in breaches), breaches  # nothing lost
    duplicated = [b for b in breaches if "stored more than once" in b]
    assert len(duplicated) == 1 and f"{ledger.prefix}3" in duplicated[0]
    broken = [b for b in breaches if b.startswith("Data integrity breach: scripted store:")]
    assert len(broken) == 1, breaches
