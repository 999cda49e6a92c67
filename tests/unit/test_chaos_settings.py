"""Where a `chaos run` drills: the experiment's configuration values win over the
environment, which wins over the defaults (the embedded stack, reports/runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.chaos.settings import DEFAULT_RUNS_DIR, settings_from
from drillbook.errors import ConfigError


def test_nothing_given_drills_the_embedded_stack() -> None:
    settings = settings_from({}, environ={})
    assert settings.config_path is None
    assert dict(settings.overrides) == {}
    assert settings.runs_dir == DEFAULT_RUNS_DIR


def test_configuration_values_win_over_the_environment() -> None:
    environ = {
        "DRILLBOOK_CONFIG": "from-env.toml",
        "DRILLBOOK_RUN_DIR": "/env/stack",
        "DRILLBOOK_RUNS_DIR": "/env/runs",
    }
    settings = settings_from(
        {
            "drillbook_config": "mine.toml",
            "drillbook_run_dir": "/tmp/stack",
            "drillbook_reuse_stack": "true",
            "drillbook_runs_dir": "/tmp/runs",
        },
        environ=environ,
    )
    assert settings.config_path == "mine.toml"
    assert dict(settings.overrides) == {"stack.run_dir": "/tmp/stack", "stack.reuse": True}
    assert settings.runs_dir == Path("/tmp/runs")


def test_empty_configuration_values_fall_back_to_the_environment() -> None:
    # What an experiment's {"type": "env", "default": ""} gives when the variable is unset.
    settings = settings_from(
        {"drillbook_config": "", "drillbook_reuse_stack": ""},
        environ={"DRILLBOOK_CONFIG": "env.toml", "DRILLBOOK_REUSE_STACK": "no"},
    )
    assert settings.config_path == "env.toml"
    assert "stack.reuse" not in settings.overrides


def test_overrides_are_dotted_keys_as_on_the_pytest_command_line() -> None:
    settings = settings_from(
        {"drillbook_overrides": {"objectives.rto_critical": "200ms"}}, environ={}
    )
    assert dict(settings.overrides) == {"objectives.rto_critical": "200ms"}


@pytest.mark.parametrize(
    ("configuration", "named"),
    [
        ({"drillbook_reuse_stack": "perhaps"}, "drillbook_reuse_stack"),
        ({"drillbook_overrides": ["objectives.rpo"]}, "drillbook_overrides"),
        ({"drillbook_config": 3}, "drillbook_config"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_key(
    configuration: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from(configuration, environ={})
