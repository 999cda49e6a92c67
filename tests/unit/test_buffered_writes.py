"""The buffered-writes-lost finding: the ledger's lost writes attributed to the drill's fault.

A scripted drill (drillbook's engine on a played clock, its real Timeline) injects a fault; a
stand-in for the ledger hands over hand-built lost writes. Writes lost when only the service's
own processes were killed are the finding, with its evidence; writes lost when the database was
killed or damaged are the database's (no finding); the figures separate the causes.
tests/integration/test_buffered_writes_finding.py shows the same path on the embedded stack.
Last, the defect's own service (tests/services/buffered_notes.py): its buffer is stored whole
by a graceful stop, so only a kill loses notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from drillbook.companions.buffered_writes import (
    AFTER_THE_FAULT,
    NO_FAULT,
    SERVICE_KILLED,
    BufferedWritesWatch,
)
from drillbook.core.clock import FakeClock
from drillbook.core.steps import Fault
from drillbook.core.timeline import SampleStatus
from drillbook.core.undo import UndoAction
from drillbook.engine.drill import Drill
from drillbook.engine.record import record_of
from drillbook.ledger.acks import Acknowledgement
from drillbook.reporting.terminal import format_summary
from tests.services.buffered_notes import PendingNote, WriteBuffer
from tests.unit.test_drill_engine import down_between, make_drill, noop_step

FAULT_AT = 10.0
"""When the scripted drills inject: after a baseline of 10 s on a clock starting at 0."""
INJECTION_SECONDS = 0.05


class LedgerStandIn:
    """The ledger's part this companion reads: the lost writes of its last read-back."""

    name = "ledger"

    def __init__(self, lost: Sequence[Acknowledgement]) -> None:
        self.lost = list(lost)

    def start(self, drill: Drill) -> None: ...

    def stop(self, drill: Drill) -> None: ...

    def figures(self) -> dict[str, object]:
        return {}

    def attachments(self) -> list[object]:
        return []

    def lost_writes(self) -> list[Acknowledgement]:
        return list(self.lost)


def _lost(seq: int, seconds_before_fault: float) -> Acknowledgement:
    acked = FAULT_AT - seconds_before_fault
    return Acknowledgement(
        seq=seq,
        trace_id=f"drill-run-{seq}",
        sent_monotonic=acked - 0.01,
        ack_monotonic=acked,
        ack_wall=acked + 1_700_000_000.0,
    )


def _fault(clock: FakeClock, *, name: str, stops: str | None) -> Fault:
    def inject() -> dict[str, object]:
        clock.advance(INJECTION_SECONDS)  # the SIGKILLs and the wait for the processes to die
        return {"killed": ["app-0", "app-1"], "pids": [4100, 4101]}

    return Fault(
        name=name,
        description=name,
        inject=inject,
        undo=UndoAction("bring it back", "local", "reconcile", {"component": "app"}),
        stops=stops,
    )


def _injected(
    tmp_path: Path, lost: Sequence[Acknowledgement], *, name: str, stops: str | None
) -> tuple[Drill, BufferedWritesWatch, FakeClock]:
    drill, clock, _ = make_drill(tmp_path, down_between(FAULT_AT, FAULT_AT + 3.0))
    watch = BufferedWritesWatch()
    drill.companions += [LedgerStandIn(lost), watch]  # type: ignore[list-item]
    drill.begin(baseline_seconds=FAULT_AT)
    assert clock.monotonic() == FAULT_AT
    drill.inject(_fault(clock, name=name, stops=stops))
    return drill, watch, clock


def test_writes_lost_when_the_services_processes_were_killed_are_the_finding(
    tmp_path: Path,
) -> None:
    lost = [
        _lost(3, 1.9),
        _lost(5, 0.1),
        # Acknowledged during the injection, by a replica not yet killed: lost to the kill too.
        _lost(6, -0.02),
        # Acknowledged after the service came back, not yet stored when the ledger read back:
        # not the kill's doing.
        _lost(40, -6.0),
    ]
    drill, watch, _ = _injected(tmp_path, lost, name="kill-app", stops="app")
    (finding,) = watch.findings(drill)
    assert finding.kind == "buffered-writes-lost" and finding.component == "app"
    assert finding.summary.startswith(
        "3 acknowledged write(s) lost when the processes of app were killed (app-0, app-1): "
        "acknowledged 0.0 s to 1.9 s before the kill"
    )
    evidence = finding.evidence
    assert evidence["lost"] == 3
    assert evidence["first_lost"] == [
        {"trace_id": "drill-run-3", "acknowledged_seconds_before_kill": 1.9},
        {"trace_id": "drill-run-5", "acknowledged_seconds_before_kill": 0.1},
        {"trace_id": "drill-run-6", "acknowledged_seconds_before_kill": -0.02},
    ]
    assert evidence["acknowledged_seconds_before_kill"] == {"oldest": 1.9, "newest": -0.02}
    assert evidence["kill"] == {
        "fault": "kill-app",
        "seconds_into_drill": FAULT_AT,
        "wall": "2023-11-14T22:13:30.000+00:00",  # FakeClock: wall = monotonic + 1.7e9
        "injection_seconds": INJECTION_SECONDS,
        "replicas": ["app-0", "app-1"],
        "pids": [4100, 4101],
    }
    assert watch.figures() == {"lost_by_cause": {SERVICE_KILLED: 3, AFTER_THE_FAULT: 1}}


def test_at_most_twenty_lost_writes_are_named(tmp_path: Path) -> None:
    lost = [_lost(seq, 1.5 - seq * 0.01) for seq in range(1, 31)]
    drill, watch, _ = _injected(tmp_path, lost, name="kill-app", stops="app")
    (finding,) = watch.findings(drill)
    assert finding.evidence["lost"] == 30
    assert [w["trace_id"] for w in finding.evidence["first_lost"]] == [
        f"drill-run-{seq}" for seq in range(1, 21)
    ]
    assert finding.evidence["acknowledged_seconds_before_kill"] == {"oldest": 1.49, "newest": 1.2}


def test_the_drill_reports_the_finding_once_beside_its_verdict(tmp_path: Path) -> None:
    drill, _, clock = _injected(tmp_path, [_lost(7, 0.4)], name="kill-app", stops="app")
    drill.wait_until_detected()
    drill.recover(noop_step(clock, 1.0))
    drill.wait_until_recovered()
    drill.verify(window_seconds=0.5)
    drill.assert_objectives()  # the stand-in ledger judges nothing: the RTO alone passes
    drill.finish()  # collects the findings again: the same finding is not repeated
    assert [(f.kind, f.evidence["lost"]) for f in drill.findings] == [("buffered-writes-lost", 1)]
    record = record_of(drill, nodeid="drills/x.py::test_x", outcome="passed")
    assert record.companions["buffered_writes"] == {"lost_by_cause": {SERVICE_KILLED: 1}}
    text = "\n".join(format_summary([record]))
    assert "Finding (buffered-writes-lost) at app: 1 acknowledged write(s) lost" in text


@pytest.mark.parametrize(
    ("name", "stops"),
    [
        ("kill-database", "database"),  # the database's processes killed
        # Crashed and a data file overwritten: the fault leaves `stops` unset; its name says.
        ("damage-database-data-file", None),
    ],
)
def test_writes_lost_with_the_database_are_the_databases_not_a_finding(
    tmp_path: Path, name: str, stops: str | None
) -> None:
    lost = [_lost(2, 240.0), _lost(9, 0.3), _lost(50, -4.0)]
    drill, watch, _ = _injected(tmp_path, lost, name=name, stops=stops)
    assert watch.findings(drill) == []
    assert watch.figures() == {"lost_by_cause": {"database": 2, AFTER_THE_FAULT: 1}}


def test_writes_lost_with_another_dependency_are_counted_under_its_role(tmp_path: Path) -> None:
    drill, watch, _ = _injected(tmp_path, [_lost(4, 0.8)], name="kill-cache-master", stops="cache")
    assert watch.findings(drill) == []
    assert watch.figures() == {"lost_by_cause": {"cache": 1}}


def test_writes_lost_only_after_the_kill_are_not_the_finding(tmp_path: Path) -> None:
    drill, watch, _ = _injected(tmp_path, [_lost(60, -5.0)], name="kill-app", stops="app")
    assert watch.findings(drill) == []
    assert watch.figures() == {"lost_by_cause": {AFTER_THE_FAULT: 1}}


def test_nothing_lost_gives_no_finding_and_no_figures(tmp_path: Path) -> None:
    drill, watch, _ = _injected(tmp_path, [], name="kill-app", stops="app")
    assert watch.findings(drill) == []
    assert watch.figures() == {}


def test_writes_lost_without_a_fault_are_no_finding(tmp_path: Path) -> None:
    drill, _, _ = make_drill(tmp_path, lambda t: SampleStatus.OK)
    watch = BufferedWritesWatch()
    drill.companions += [LedgerStandIn([_lost(1, 3.0)]), watch]  # type: ignore[list-item]
    drill.begin(baseline_seconds=FAULT_AT)
    assert watch.findings(drill) == []
    assert watch.figures() == {"lost_by_cause": {NO_FAULT: 1}}


def test_without_a_ledger_there_is_nothing_to_attribute(tmp_path: Path) -> None:
    drill, clock, _ = make_drill(tmp_path, down_between(FAULT_AT, FAULT_AT + 3.0))
    watch = BufferedWritesWatch()
    drill.companions.append(watch)
    drill.begin(baseline_seconds=FAULT_AT)
    drill.inject(_fault(clock, name="kill-app", stops="app"))
    assert watch.findings(drill) == []
    assert watch.figures() == {}


# -- the defect's service (tests/services/buffered_notes.py): only a kill loses its buffer ------


def _note(trace_id: str) -> PendingNote:
    return PendingNote(trace_id, {"text": trace_id}, "2026-01-01T00:00:00+00:00", "0" * 64)


def test_the_buffered_service_stores_its_whole_buffer_when_stopped_gracefully() -> None:
    stored: list[str] = []
    buffer = WriteBuffer(lambda note: stored.append(note.trace_id), limit=100)
    for trace_id in ("a", "b", "c"):
        assert buffer.add(_note(trace_id)) is None
    assert buffer.add(_note("b")) == _note("b")  # the same trace id again: the buffered note
    assert stored == [] and buffer.get("b") == _note("b")  # acknowledged, not stored yet
    buffer.close()  # what the service's shutdown (SIGTERM) runs
    assert stored == ["a", "b", "c"]
    assert buffer.get("b") is None


def test_a_note_the_buffered_service_cannot_store_waits_with_the_ones_after_it() -> None:
    stored: list[str] = []
    refuse = {"b"}

    def store(note: PendingNote) -> None:
        if note.trace_id in refuse:
            raise psycopg.OperationalError("the database is down")
        stored.append(note.trace_id)

    buffer = WriteBuffer(store, limit=100)
    for trace_id in ("a", "b", "c"):
        buffer.add(_note(trace_id))
    assert buffer.flush() == 1
    assert stored == ["a"] and buffer.get("b") is not None and buffer.get("c") is not None
    refuse.clear()
    assert buffer.flush() == 2
    assert stored == ["a", "b", "c"]


def test_the_buffered_service_stores_its_buffer_once_full() -> None:
    stored: list[str] = []
    buffer = WriteBuffer(lambda note: stored.append(note.trace_id), limit=3)
    buffer.add(_note("a"))
    buffer.add(_note("b"))
    assert stored == []  # held: a kill now would lose both
    buffer.add(_note("c"))
    assert stored == ["a", "b", "c"]
