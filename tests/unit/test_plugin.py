"""The pytest plugin through pytester: options, ini keys, markers, and bad input messages."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_options_are_registered_with_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    for option in (
        "--drillbook-config",
        "--drillbook-platform",
        "--drillbook-probe-interval",
        "--drillbook-healthy-streak",
        "--drillbook-run-dir",
        "--drillbook-reuse-stack",
        "--drillbook-allow-production",
    ):
        assert option in out
    # every option is also an ini key with the same help
    assert "drillbook_probe_interval (string)" in out


def test_drill_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.drill(scenario, component, option=''*"])


def test_strict_markers_accept_drill(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.drill(scenario="application-failure")
        def test_marked():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


def test_malformed_config_is_one_clear_error(pytester: pytest.Pytester) -> None:
    bad = pytester.makefile(".toml", drillbook='platform = "local"\n[probing]\ninterval = "fast"\n')
    result = pytester.runpytest(f"--drillbook-config={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "drillbook.toml: key 'probing.interval': found 'fast'" in err
    assert "Traceback" not in err + result.stdout.str()


def test_toml_syntax_error_names_the_line(pytester: pytest.Pytester) -> None:
    bad = pytester.makefile(".toml", drillbook='platform = "local"\n[probing\n')
    result = pytester.runpytest(f"--drillbook-config={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "line 2" in result.stderr.str()


def test_unknown_platform_is_one_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--drillbook-platform=nomad")
    out = result.stdout.str() + result.stderr.str()
    assert "key 'platform': found 'nomad', expected one of 'local', 'kubernetes'" in out
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_ini_value_is_used_and_cli_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndrillbook_probe_interval = 500ms\n")
    pytester.makepyfile(
        """
        def test_interval(drillbook_config, request):
            expected = float(request.config.getoption("expected"))
            assert drillbook_config.probing.interval_seconds == expected
        """
    )
    pytester.makeconftest("def pytest_addoption(parser):\n    parser.addoption('--expected')\n")
    pytester.runpytest("--expected=0.5").assert_outcomes(passed=1)
    pytester.runpytest("--expected=0.1", "--drillbook-probe-interval=100ms").assert_outcomes(
        passed=1
    )


def test_kubernetes_without_a_base_url_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--drillbook-platform=kubernetes")
    assert "key 'target.base_url': found nothing" in result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_drill_without_scenario_fails_before_the_stack_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_unmarked(drill):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "needs @pytest.mark.drill(scenario=...)" in out
    assert "Traceback" not in out


def test_a_tier_in_the_marker_is_refused_before_the_stack_starts(
    pytester: pytest.Pytester,
) -> None:
    # One source for a drill's tier: its component's in the configuration.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.drill(scenario="application-failure", tier="critical")
        def test_tier_in_marker(drill):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*comes from the configuration, [[]target.components.<name>[]] tier*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_unknown_component_fails_before_the_stack_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.drill(scenario="application-failure", component="mainframe")
        def test_bad_component(drill):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*component='mainframe'*no component named or with role 'mainframe'*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_tier_is_the_components_in_the_configuration() -> None:
    from drillbook.assembly.drill import validate_marker
    from drillbook.config.loader import load_config

    config = load_config(None)
    marker = {"scenario": "cache-failure", "component": "cache"}
    assert validate_marker("n", marker, config) == config.target.components["cache"].tier
    assert validate_marker("n", {**marker, "component": "app"}, config) == "critical"
