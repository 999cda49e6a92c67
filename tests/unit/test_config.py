"""Loading, validating and overriding configuration files; durations."""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
from pathlib import Path

import pytest

from drillbook.config import (
    EMBEDDED_SOURCE,
    OVERRIDES_SOURCE,
    DrillbookConfig,
    Objectives,
    format_duration,
    load_config,
    parse_duration,
)
from drillbook.errors import ConfigError, InvalidDrill
from tests.unit.config_cases import BAD_CONFIGS, PROBE, BadConfig

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_EXAMPLE = REPO / "configs" / "eleanor-v8-production.toml"


def write(tmp_path: Path, text: str, name: str = "drill.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# --- the shipped configurations ---------------------------------------------------------------


def test_embedded_configuration_has_the_plans_objectives() -> None:
    config = load_config()

    assert config.source == EMBEDDED_SOURCE
    assert config.objectives == Objectives()
    assert (
        config.objectives.rto_critical_seconds,
        config.objectives.rto_non_critical_seconds,
        config.objectives.rto_full_seconds,
        config.objectives.rpo_seconds,
        config.objectives.evidence_loss_allowed,
        config.objectives.configuration_loss_allowed,
    ) == (900.0, 3600.0, 14400.0, 300.0, 0, 0)


def test_embedded_configuration_describes_the_local_stack() -> None:
    config = load_config()

    assert config.platform == "local"
    assert config.allow_production is False
    assert config.target.base_url is None
    assert config.target.environment == "drill"
    assert config.probing.interval_seconds == 0.25
    assert config.probing.recover_timeout_seconds == 900.0
    assert config.target.auth.kind == "jwt"
    (health,) = config.target.probes
    assert health.path == "/health"
    assert [c.source for c in health.conditions] == [
        'status == "healthy"',
        'checks.database == "ok"',
        'checks.cache == "ok"',
        'checks.secrets == "ok"',
        'checks.precedent_store in ["ok", "not_configured"]',
    ]
    (deliberate,) = config.target.critical_endpoints
    assert (deliberate.method, deliberate.auth) == ("POST", True)
    assert deliberate.json_body == {"input": "drill probe", "context": {}}
    components = config.target.components
    assert {name: c.supervisor_group for name, c in components.items()} == {
        "app": "app",
        "database": "postgres",
        "cache": "redis",
        "proxy": "proxy",
        "vector_store": "weaviate",
        "vault": "vault",
        "secrets-manager": "secrets-manager",
    }
    assert components["cache"].tier == "non_critical"
    assert components["database"].workload == "statefulset/postgres"
    assert (config.stack.app_replicas, config.stack.max_app_replicas) == (2, 5)
    assert config.verification.window_seconds == 3.0
    assert config.verification.error_rate_max == 0.01


def test_embedded_configuration_ships_as_package_data() -> None:
    resource = importlib.resources.files("drillbook.config").joinpath("embedded.toml")
    assert resource.is_file()


def test_production_example_describes_a_kubernetes_target() -> None:
    config = load_config(PRODUCTION_EXAMPLE)

    assert config.source == str(PRODUCTION_EXAMPLE)
    assert config.platform == "kubernetes"
    assert config.allow_production is True
    assert config.target.environment == "production"
    assert config.target.base_url == "https://api.eleanor-v8.example"
    assert config.target.auth.kind == "jwt"
    assert config.target.auth.secret_env == "ELEANOR_JWT_SECRET"
    (health,) = config.target.probes
    assert health.path == "/health"
    sources = {c.source for c in health.conditions}
    assert {'checks.precedent_store == "ok"', 'checks.engine == "ok"'} <= sources
    endpoints = {probe.name: probe for probe in config.target.critical_endpoints}
    assert endpoints["deliberate"].method == "POST"
    assert endpoints["deliberate"].auth is True
    assert set(endpoints["deliberate"].json_body) == {"input", "context", "trace_id"}
    assert endpoints["metrics"].path == "/metrics"
    assert config.verification.window_seconds == 60.0
    placement = {c.role: (c.namespace, c.selector) for c in config.target.components.values()}
    assert placement == {
        "app": ("eleanor-v8", "app=eleanor-v8"),
        "database": ("eleanor-db", "app=postgres"),
        "cache": ("eleanor-cache", "app=redis"),
        "vector_store": ("eleanor-vector", "app=weaviate"),
    }


def test_production_example_probes_within_the_rate_limit() -> None:
    # ELEANOR V8 allows 100 requests per 60 s per client IP; health probing alone must leave
    # most of that budget to critical endpoints and the writer.
    config = load_config(PRODUCTION_EXAMPLE)
    health_requests_per_minute = 60 / config.probing.interval_seconds * len(config.target.probes)
    assert health_requests_per_minute <= 50


def test_the_same_healthy_answer_passes_the_production_probe() -> None:
    config = load_config(PRODUCTION_EXAMPLE)
    # "degraded" is what a healthy production deployment reports (see the comment in the file).
    answer = {
        "status": "degraded",
        "checks": {
            "api": "ok",
            "engine": "ok",
            "opa": "ok",
            "precedent_store": "ok",
            "readiness_cors": "configured",
            "readiness_precedent_backend": "weaviate",
            "readiness_storage": "ok",
        },
    }
    (health,) = config.target.probes
    assert all(condition.evaluate(answer) for condition in health.conditions)
    answer["checks"]["precedent_store"] = "error"  # type: ignore[index]
    assert not all(condition.evaluate(answer) for condition in health.conditions)


# --- named bad inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[case.name for case in BAD_CONFIGS])
def test_bad_configuration_is_refused_with_evidence(tmp_path: Path, case: BadConfig) -> None:
    path = write(tmp_path, case.toml, name=f"{case.name}.toml")

    message = load_error(path)

    assert message.startswith(f"{path}: key '{case.key}': found ")
    assert case.found in message
    assert case.expected in message
    assert "\n" not in message


def test_bad_case_names_are_unique() -> None:
    names = [case.name for case in BAD_CONFIGS]
    assert len(names) == len(set(names))


def test_config_error_is_raised_before_any_drill_starts() -> None:
    assert issubclass(ConfigError, InvalidDrill)


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, '[target.auth]\nkind = "jwt"\njwt = "hunter2"\n' + PROBE)
    assert "hunter2" not in load_error(path)
    path = write(tmp_path, '[probing]\nheaders = { authorization = "Bearer tok3n" }\n' + PROBE)
    assert "tok3n" not in load_error(path)


# --- reading ----------------------------------------------------------------------------------


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    assert load_error(path) == (
        f"config file '{path}' not found; pass an existing file with --drillbook-config "
        "or omit it to use the embedded stack"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "is a directory" in load_error(tmp_path)


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'platform = "local"\n\n[probing]\ninterval = fast\n')

    message = load_error(path)

    assert message.startswith(f"{path}: invalid TOML at line 4, column 12: Invalid value")
    assert "\n" not in message
    assert "Traceback" not in message


def test_toml_syntax_error_at_end_of_document(tmp_path: Path) -> None:
    path = write(tmp_path, 'platform = "local"\nheaders = [1,')
    assert load_error(path).startswith(f"{path}: invalid TOML at line 2, column 14:")


def test_config_error_hides_the_parser_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "= 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.__suppress_context__


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[probing]\nintervl = "1s"\n' + PROBE)

    message = load_error(path)

    assert f"{path}: key 'probing.intervl': found unknown key 'intervl'" in message
    assert message.endswith("did you mean 'interval'?")


def test_unknown_platform_lists_the_choices(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'platform = "nomad"\n' + PROBE))
    assert "expected one of 'local', 'kubernetes'" in message


def test_misspelled_platform_is_suggested(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'platform = "kubernets"\n' + PROBE))
    assert message.endswith("did you mean 'kubernetes'?")


def test_minimal_file_takes_the_model_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PROBE))

    assert config.objectives == Objectives()
    assert config.probing.healthy_streak == 3
    assert config.probing.headers == {}
    assert config.target.name == "eleanor-v8"
    assert config.target.auth.kind == "none"
    assert config.target.probes[0].method == "GET"
    assert config.target.probes[0].expect_status == (200,)


def test_durations_map_to_seconds_fields(tmp_path: Path) -> None:
    text = (
        '[objectives]\nrto_critical = "10m"\nrpo = 30\n'
        '[probing]\ninterval = "500ms"\ntimeout = "1.5s"\nrecover_timeout = "1h30m"\n' + PROBE
    )
    config = load_config(write(tmp_path, text))

    assert config.objectives.rto_critical_seconds == 600.0
    assert config.objectives.rpo_seconds == 30.0
    assert config.probing.interval_seconds == 0.5
    assert config.probing.timeout_seconds == 1.5
    assert config.probing.recover_timeout_seconds == 5400.0


def test_verification_settings(tmp_path: Path) -> None:
    text = '[verification]\nwindow = "1m"\nerror_rate_max = 0\n' + PROBE
    config = load_config(write(tmp_path, text), overrides={"verification.error_rate_max": "0.1"})
    assert config.verification.window_seconds == 60.0
    assert config.verification.error_rate_max == 0.1


def test_base_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[target]\nbase_url = "http://127.0.0.1:8080/"\n' + PROBE))
    assert config.target.base_url == "http://127.0.0.1:8080"


def test_method_is_normalised_to_upper_case(tmp_path: Path) -> None:
    text = '[[target.probes]]\nname = "h"\npath = "/health"\nmethod = "head"\n'
    assert load_config(write(tmp_path, text)).target.probes[0].method == "HEAD"


# --- overrides --------------------------------------------------------------------------------


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'platform = "local"\n[probing]\ninterval = "1s"\n[stack]\nreuse = false\n' + PROBE,
    )

    config = load_config(
        path,
        overrides={
            "platform": "local",
            "probing.interval": "100ms",
            "stack.reuse": True,
            "allow_production": True,
            "stack.run_dir": "/tmp/x",
        },
    )

    assert config.source == str(path)
    assert config.probing.interval_seconds == 0.1
    assert config.stack.reuse is True
    assert config.allow_production is True
    assert config.stack.run_dir == "/tmp/x"


def test_file_wins_over_defaults_where_no_override_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, '[probing]\ninterval = "1s"\n' + PROBE)
    config = load_config(path, overrides={"stack.reuse": True})
    assert config.probing.interval_seconds == 1.0


def test_override_of_none_means_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, '[probing]\ninterval = "1s"\n' + PROBE)
    config = load_config(path, overrides={"probing.interval": None})
    assert config.probing.interval_seconds == 1.0


def test_overrides_apply_to_the_embedded_configuration() -> None:
    config = load_config(overrides={"probing.healthy_streak": 5, "stack.app_replicas": 3})
    assert config.source == EMBEDDED_SOURCE
    assert config.probing.healthy_streak == 5
    assert config.stack.app_replicas == 3


def test_overrides_accept_text_for_booleans_and_integers() -> None:
    # Command-line and ini values arrive as strings.
    config = load_config(
        overrides={
            "stack.reuse": "true",
            "probing.healthy_streak": "4",
            "stack.run_dir": Path("/x"),
        }
    )
    assert config.stack.reuse is True
    assert config.probing.healthy_streak == 4
    assert config.stack.run_dir == "/x"


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"probing.interval": "-1s"}, "probing.interval", "a duration of 0 or more"),
        ({"probing.healthy_streak": "0"}, "probing.healthy_streak", "an integer >= 1"),
        ({"stack.reuse": "maybe"}, "stack.reuse", "true or false"),
        ({"platform": "nomad"}, "platform", "one of 'local', 'kubernetes', 'docker'"),
        ({"probing.intervl": "1s"}, "probing.intervl", "did you mean 'interval'?"),
        ({"stak.reuse": True}, "stak", "did you mean 'stack'?"),
        ({"stack.app_replicas": 9}, "stack.app_replicas", "<= stack.max_app_replicas (5)"),
    ],
)
def test_overrides_are_validated_like_the_file(
    overrides: dict[str, object], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    message = str(info.value)
    assert message.startswith(f"{OVERRIDES_SOURCE}: key '{key}': found ")
    assert expected in message


def test_override_into_a_value_that_is_not_a_table() -> None:
    with pytest.raises(ConfigError, match=r"'platform' is 'local' in <embedded>"):
        load_config(overrides={"platform.name": "x"})


def test_override_key_must_be_dotted_words() -> None:
    with pytest.raises(ConfigError, match="expected a dotted key"):
        load_config(overrides={"probing..interval": "1s"})


def test_override_to_kubernetes_needs_what_kubernetes_needs() -> None:
    with pytest.raises(ConfigError, match=r"key 'target\.base_url': found nothing"):
        load_config(overrides={"platform": "kubernetes"})


# --- the production guard ---------------------------------------------------------------------


def test_production_needs_explicit_confirmation(tmp_path: Path) -> None:
    path = write(tmp_path, '[target]\nenvironment = "production"\n' + PROBE)

    message = load_error(path)

    assert message.startswith(f"{path}: key 'target.environment': found 'production'")
    assert "destructive" in message
    assert "allow_production = true" in message
    assert "--drillbook-allow-production" in message


@pytest.mark.parametrize("spelling", ["Production", "prod", " PROD "])
def test_production_guard_is_not_fooled_by_spelling(tmp_path: Path, spelling: str) -> None:
    path = write(tmp_path, f'[target]\nenvironment = "{spelling}"\n' + PROBE)
    assert "allow_production" in load_error(path)


def test_production_confirmed_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'allow_production = true\n[target]\nenvironment = "production"\n' + PROBE
    )
    assert load_config(path).target.environment == "production"


def test_production_confirmed_by_override(tmp_path: Path) -> None:
    path = write(tmp_path, '[target]\nenvironment = "production"\n' + PROBE)
    config = load_config(path, overrides={"allow_production": True})
    assert config.allow_production is True


def test_production_by_override_is_guarded_too() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides={"target.environment": "production"})
    assert str(info.value).startswith(f"{OVERRIDES_SOURCE}: key 'target.environment'")


def test_production_confirmation_can_be_withdrawn_by_override() -> None:
    with pytest.raises(ConfigError, match="allow_production"):
        load_config(PRODUCTION_EXAMPLE, overrides={"allow_production": False})


# --- the model --------------------------------------------------------------------------------


def test_configuration_is_frozen() -> None:
    config = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.platform = "kubernetes"  # type: ignore[misc]


def test_with_base_url_returns_a_filled_in_copy() -> None:
    config = load_config()

    filled = config.with_base_url("http://127.0.0.1:18080/")

    assert filled.target.base_url == "http://127.0.0.1:18080"
    assert config.target.base_url is None
    assert filled.target.probes == config.target.probes
    assert isinstance(filled, DrillbookConfig)


def test_rto_for_each_tier() -> None:
    objectives = Objectives(rto_critical_seconds=1, rto_non_critical_seconds=2, rto_full_seconds=3)
    assert [objectives.rto_for(t) for t in ("critical", "non_critical", "full")] == [1, 2, 3]
    with pytest.raises(ValueError, match="unknown tier"):
        objectives.rto_for("urgent")  # type: ignore[arg-type]


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (2, 2.0),
        (0.5, 0.5),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("2.5s", 2.5),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1h0.5s", 3600.5),
        (" 4h ", 14400.0),
        ("2", 2.0),
        ("0.75", 0.75),
        ("0s", 0.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, key="k", source="f") == seconds


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        "-2s",
        True,
        False,
        "",
        "  ",
        "fast",
        "2 s",
        "1d",
        "30s1m",
        "1m1m",
        "1.s",
        math.inf,
        math.nan,
        None,
        [1],
        "1h 30m",
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, key="probing.interval", source="drill.toml")
    assert str(info.value).startswith(f"drill.toml: key 'probing.interval': found {value!r}, ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (2.5, "2.5s"),
        (2, "2s"),
        (60, "1m"),
        (90, "1m30s"),
        (900, "15m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (14400, "4h"),
        (3600.5, "1h0.5s"),
        (-2, "-2s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.001, 0.25, 1, 59.999, 61.5, 900, 3600.25, 90061])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds), key="k", source="f") == pytest.approx(seconds)
