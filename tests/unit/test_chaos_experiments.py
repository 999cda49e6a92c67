"""Every experiment in experiments/ passes `chaos validate` (Chaos Toolkit's own command, run
in this process), declares the drillbook control with a scenario and a component the embedded
configuration knows, and calls only activities the extension tags with a drill phase. A broken
copy is refused by the same command, so the check can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chaostoolkit.cli import cli
from click.testing import CliRunner

from drillbook.chaos.activity import phase_of
from drillbook.config.loader import load_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
FILES = sorted(EXPERIMENTS.glob("*.json"))
SCENARIOS = {
    "application-failure",
    "database-failure",
    "cache-failure",
    "vector-database-failure",
    "secrets-management-failure",
}


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--no-version-check", "--no-log-file", "validate", str(path)], catch_exceptions=False
    )
    return result.exit_code, result.output


def _activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis", {}).get("probes", [])
    return [*hypothesis, *experiment.get("method", []), *experiment.get("rollbacks", [])]


def test_there_is_an_experiment_for_every_scenario() -> None:
    scenarios = {
        json.loads(path.read_text())["controls"][0]["provider"]["arguments"]["scenario"]
        for path in FILES
    }
    assert scenarios == SCENARIOS, scenarios
    assert len(FILES) >= 16, [p.name for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_experiment_is_valid(path: Path) -> None:
    code, output = _validate(path)
    assert code == 0, output
    assert "experiment syntax and semantic look valid" in output, output


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_experiment_is_a_drill_of_the_configuration(path: Path) -> None:
    experiment = json.loads(path.read_text())
    (control,) = experiment["controls"]
    assert control["provider"]["module"] == "drillbook.chaos.control"
    arguments = control["provider"]["arguments"]
    config = load_config(None)
    assert config.tier_of(arguments["component"])  # a component the configuration knows
    assert arguments["option"], "the option names the plan's recovery option"
    # Runnable against any configuration: the config path is a configuration value.
    assert experiment["configuration"]["drillbook_config"]["key"] == "DRILLBOOK_CONFIG"
    for activity in _activities(experiment):
        assert phase_of(activity) is not None, activity["name"]
    kinds = [phase_of(a) for a in experiment["method"]]
    assert "inject" in kinds, kinds
    assert [phase_of(a) for a in experiment["rollbacks"]] == ["undo"]


def test_a_broken_experiment_is_refused(tmp_path: Path) -> None:
    experiment = json.loads(FILES[0].read_text())
    experiment["method"][0]["provider"]["func"] = "no_such_fault"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(experiment))
    code, output = _validate(broken)
    assert code != 0
    assert "no_such_fault" in output, output


def test_a_control_without_its_scenario_is_refused(tmp_path: Path) -> None:
    experiment = json.loads(FILES[0].read_text())
    del experiment["controls"][0]["provider"]["arguments"]["scenario"]
    broken = tmp_path / "no-scenario.json"
    broken.write_text(json.dumps(experiment))
    code, output = _validate(broken)
    assert code != 0
    assert "scenario" in output, output
