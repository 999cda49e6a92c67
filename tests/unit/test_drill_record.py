"""The drill record (what every report reads), the terminal progress lines and the summary.

The drills here run on the scripted target of test_drill_engine (an injected clock); the main
job's test (tests/integration/test_main_job_report.py) checks the same record on real drills.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from drillbook.core.record import (
    RECORD_SCHEMA_VERSION,
    DrillRecord,
    LoadFigure,
    LoadPhase,
    record_json_schema,
)
from drillbook.engine.record import record_of
from drillbook.errors import ObjectiveBreached
from drillbook.reporting.run_file import run_document, write_run_file
from drillbook.reporting.terminal import TerminalProgress, format_summary
from tests.unit.test_drill_engine import down_between, fault, make_drill, noop_step


def run_drill(tmp_path: Path, *, lines: list[str] | None = None) -> DrillRecord:
    drill, clock, _ = make_drill(tmp_path, down_between(2.0, 6.0))
    if lines is not None:
        drill.observers.add(TerminalProgress(lines.append, tick_seconds=1.0, clock=clock.monotonic))
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(noop_step(clock, 1.0))
    drill.wait_until_recovered()
    drill.verify(window_seconds=0.5)
    drill.assert_objectives()
    drill.finish()
    return record_of(drill, nodeid="drills/x.py::test_x", outcome="passed")


def test_record_holds_the_measured_figures(tmp_path: Path) -> None:
    record = run_drill(tmp_path)
    assert record.rto is not None
    # Down from 2.0 s to 6.0 s, probed every 0.25 s, fault at 2.0 s: recovered at the 6.0 s sample.
    assert record.rto.seconds == pytest.approx(4.0)
    assert record.rto.error_bar_seconds == pytest.approx(0.25)
    assert record.rto.objective_seconds == 900.0
    assert record.rto.within_objective
    assert record.detection_seconds == pytest.approx(0.0)
    assert [name for name, _ in record.phases][:3] == ["baseline", "inject", "detect"]
    assert record.phase_seconds("undo") >= 0.0
    assert record.breaches == ()
    assert record.wall_seconds >= record.rto.seconds


def test_record_round_trips_through_json_with_its_version(tmp_path: Path) -> None:
    record = run_drill(tmp_path)
    data = json.loads(json.dumps(record.to_json()))
    assert data["schema_version"] == RECORD_SCHEMA_VERSION
    assert data["rto"]["within_objective"] is True
    assert DrillRecord.from_json(data) == record
    data["schema_version"] = RECORD_SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema version"):
        DrillRecord.from_json(data)


def test_an_rto_breach_is_a_typed_breach_and_marked_in_the_summary(tmp_path: Path) -> None:
    drill, _clock, _ = make_drill(tmp_path, down_between(2.0, 6.0))
    objectives = dataclasses.replace(drill.config.objectives, rto_critical_seconds=1.0)
    drill.config = dataclasses.replace(drill.config, objectives=objectives)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()
    with pytest.raises(ObjectiveBreached) as raised:
        drill.assert_objectives()
    drill.finish()
    record = record_of(drill, nodeid="n", outcome="failed", error=raised.value)
    assert [b.kind for b in record.breaches] == ["rto"]
    assert record.failure_kind == "ObjectiveBreached"
    assert record.failure is not None and record.failure.startswith("RTO breach")
    summary = "\n".join(format_summary([record]))
    assert "4.00 s (-0.25) / 1s BREACH" in summary
    assert "failed: RTO breach" in summary


def test_progress_prints_each_phase_and_the_wait_against_the_objective(tmp_path: Path) -> None:
    lines: list[str] = []
    run_drill(tmp_path, lines=lines)
    text = "\n".join(lines)
    assert "drill: scripted (application-failure, option test, critical)" in text
    assert "outage detected after 0.00 s" in text
    assert "recovered: RTO 4.00 s (-0.25 s) of 15m allowed" in text
    assert "every fault undone" in text
    # The wait for recovery lasts 4 s with a 1 s tick: at least one line says how long so far.
    assert "waiting for recovery" in text and "RTO objective 15m" in text


def test_run_file_holds_every_record_and_is_written_whole(tmp_path: Path) -> None:
    record = run_drill(tmp_path / "drill")
    document = run_document([record], started_wall=0.0, finished_wall=10.0, platform="local")
    path = write_run_file(tmp_path / "runs", document)
    loaded = json.loads(path.read_text())
    assert loaded["outcomes"] == {"passed": 1}
    assert DrillRecord.from_json(loaded["drills"][0]) == record
    assert json.loads((tmp_path / "runs" / "latest.json").read_text()) == loaded
    assert not list((tmp_path / "runs").glob("*.partial"))


def test_summary_names_the_provider_and_the_load_by_phase(tmp_path: Path) -> None:
    record = dataclasses.replace(
        run_drill(tmp_path),
        nodeid="drills/monthly/test_secrets_failure.py::test_x[vault]",
        load=LoadFigure(
            requests=100,
            errors=30,
            phases=(
                LoadPhase("baseline", 40, 0),
                LoadPhase("fault", 30, 30),
                LoadPhase("recovered", 30, 0),
            ),
        ),
    )
    row = format_summary([record])[2]
    assert "application-failure / test [vault]" in row
    assert "fault 100% / after 0% of 100" in row
    assert DrillRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "drill-record.schema.json"


def test_the_record_has_a_json_schema_with_its_version(tmp_path: Path) -> None:
    import jsonschema

    schema = record_json_schema()
    assert json.loads(SCHEMA.read_text()) == schema, (
        "docs/drill-record.schema.json is stale: regenerate it as record_json_schema's "
        "docstring says"
    )
    record = run_drill(tmp_path).to_json()
    jsonschema.validate(json.loads(json.dumps(record)), schema)
    record["schema_version"] = RECORD_SCHEMA_VERSION + 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, schema)
    del record["rto"]
    record["schema_version"] = RECORD_SCHEMA_VERSION
    with pytest.raises(jsonschema.ValidationError, match="'rto' is a required property"):
        jsonschema.validate(record, schema)
