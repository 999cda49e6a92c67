"""What the Chaos Toolkit journal gets from drillbook: which tolerance failed and by how much,
the drill's verdict from how the experiment ended, and the tolerance "within the objective"."""

from __future__ import annotations

from typing import Any

from drillbook.chaos.journal import add_to_journal, deviations, outcome_of
from drillbook.chaos.tolerances import within_objective
from drillbook.errors import RecoveryTimeout


def _journal(*after: dict[str, Any], deviated: bool = True) -> dict[str, Any]:
    return {
        "status": "completed",
        "deviated": deviated,
        "experiment": {"title": "t", "extensions": [{"name": "other", "x": 1}]},
        "steady_states": {"before": None, "after": {"probes": list(after)}},
    }


def _run(name: str, output: Any, *, met: bool) -> dict[str, Any]:
    return {
        "activity": {"name": name},
        "status": "succeeded",
        "output": output,
        "tolerance_met": met,
    }


def test_the_failed_tolerance_is_named_with_how_much_it_is_over() -> None:
    rto = {
        "figure": "RTO",
        "rto_seconds": 1.9,
        "objective_seconds": 0.2,
        "exceeded_by_seconds": 1.7,
    }
    journal = _journal(
        _run("health-checks-pass", True, met=True), _run("rto-within-objective", rto, met=False)
    )
    (deviation,) = deviations(journal)
    assert deviation["probe"] == "rto-within-objective"
    assert deviation["exceeded_by_seconds"] == 1.7
    assert deviation["output"] == rto


def test_a_check_that_failed_is_a_deviation_without_a_figure() -> None:
    (deviation,) = deviations(_journal(_run("health-checks-pass", False, met=False)))
    assert deviation["probe"] == "health-checks-pass"
    assert "exceeded_by_seconds" not in deviation


def test_the_verdict_follows_how_the_experiment_ended() -> None:
    assert outcome_of(_journal(deviated=False), None) == "passed"
    assert outcome_of(_journal(deviated=True), None) == "failed"
    interrupted = {**_journal(deviated=False), "status": "interrupted"}
    assert outcome_of(interrupted, None) == "error"
    assert outcome_of(_journal(deviated=False), RecoveryTimeout("no recovery")) == "error"


def test_the_entry_goes_into_the_experiment_extensions_once() -> None:
    journal = _journal()
    add_to_journal(journal, {"name": "drillbook", "outcome": "failed"})
    add_to_journal(journal, {"name": "drillbook", "outcome": "passed"})
    names = [e["name"] for e in journal["experiment"]["extensions"]]
    assert names == ["other", "drillbook"]
    assert journal["experiment"]["extensions"][-1]["outcome"] == "passed"


def test_within_objective_reads_the_figure_probe_output() -> None:
    assert within_objective({"within_objective": True, "rto_seconds": 1.0}) is True
    assert within_objective({"within_objective": False, "exceeded_by_seconds": 3.0}) is False
    assert within_objective(None) is False
    assert within_objective(True) is False  # not a figure: nothing says it is within
