"""The control marks the drill's phases from the method's activities: before the first
runbook step the outage must be seen, before the first verification or judgement the service
must have recovered; nothing before a fault (the steady state). A recording stand-in for the
drill keeps this fast; tests/integration/test_chaos_runs.py runs the same path for real.
Also: the control refuses, into the journal, a drill it cannot open."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from chaoslib.exceptions import InterruptExecution

from drillbook.chaos import control
from drillbook.chaos.activity import phase_of
from drillbook.chaos.phases import before_activity
from drillbook.chaos.session import ChaosSession, current, is_open
from drillbook.chaos.settings import ChaosSettings
from drillbook.errors import InvalidDrill


class RecordingDrill:
    def __init__(self) -> None:
        self.fault: object | None = None
        self.measurement: object | None = None
        self.calls: list[str] = []

    def wait_until_detected(self, *, timeout: float | None = None) -> float:
        self.calls.append(f"detect(timeout={timeout})")
        return 0.1

    def wait_until_recovered(self) -> object:
        self.calls.append("recovered")
        self.measurement = object()
        return self.measurement


def _session(drill: RecordingDrill) -> ChaosSession:
    return ChaosSession(target=cast(Any, None), drill=cast(Any, drill), settings=ChaosSettings())


def test_nothing_is_marked_before_a_fault() -> None:
    drill = RecordingDrill()
    session = _session(drill)
    for kind in ("verify", "judge", "recover"):
        before_activity(session, kind)
    assert drill.calls == []


def test_detection_before_the_first_runbook_step_then_recovery_before_verification() -> None:
    drill = RecordingDrill()
    session = _session(drill)
    session.detect_within = 62.0
    drill.fault = object()
    before_activity(session, "recover")
    before_activity(session, "recover")  # a second step: detected already
    before_activity(session, "verify")
    before_activity(session, "judge")  # recovered already
    assert drill.calls == ["detect(timeout=62.0)", "recovered"]


def test_a_fault_with_no_runbook_step_is_detected_then_recovered_before_its_checks() -> None:
    drill = RecordingDrill()
    session = _session(drill)
    drill.fault = object()
    before_activity(session, "judge")
    assert drill.calls == ["detect(timeout=None)", "recovered"]


def test_the_phase_of_an_activity_is_read_from_its_function() -> None:
    def activity(module: str, func: str) -> dict[str, Any]:
        return {"provider": {"type": "python", "module": module, "func": func}}

    assert phase_of(activity("drillbook.chaos.application.actions", "kill_replicas")) == "inject"
    assert (
        phase_of(activity("drillbook.chaos.database.actions", "restore_from_backup")) == "recover"
    )
    assert phase_of(activity("drillbook.chaos.drill.probes", "rto_within_objective")) == "judge"
    assert phase_of(activity("drillbook.chaos.drill.rollbacks", "undo_every_fault")) == "undo"
    assert phase_of(activity("os.path", "join")) is None  # not drillbook's: left alone


def test_an_activity_without_the_control_says_how_to_declare_it() -> None:
    assert not is_open()
    with pytest.raises(InvalidDrill, match=r"drillbook\.chaos\.control"):
        current()


def test_a_drill_that_cannot_start_interrupts_the_experiment_and_says_why(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-config.toml"
    experiment = {"title": "a drill on a configuration that is not there"}
    with pytest.raises(InterruptExecution, match="could not start"):
        control.before_experiment_control(
            experiment,
            configuration={"drillbook_config": str(missing)},
            scenario="application-failure",
            component="app",
        )
    assert not is_open()
    journal: dict[str, Any] = {"experiment": dict(experiment)}
    control.after_experiment_control(experiment, state=journal)
    (entry,) = journal["experiment"]["extensions"]
    assert entry["name"] == "drillbook"
    assert "ConfigError" in entry["failure"] and str(missing) in entry["failure"], entry
