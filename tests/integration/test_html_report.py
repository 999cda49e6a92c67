"""End to end: allure-pytest results -> Allure Report 3 HTML -> what headless Chromium shows.

A generated drill-like test runs under allure-pytest; its results, plus environment and
categories files, are rendered as a single-file report, served over HTTP and inspected in
headless Chromium: the landing page lists the tests, the test's own page (hash route
``#/<id>``) shows nested steps, the RTO figure, the attachments, and no secret. A screenshot
of that page is kept in ``reports/screenshots/``.

Needs the Allure 3 CLI (scripts/install-allure.sh) and Chromium: when either is missing the
tests fail with the MissingDependency message instead of skipping, so CI cannot go green
without actually looking at the report.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drillbook.core.redaction import PLACEHOLDER, Redactor
from drillbook.errors import MissingDependency
from drillbook.reporting.allure_files import (
    write_categories,
    write_environment_properties,
)
from drillbook.reporting.browser import (
    dump_dom,
    find_chromium,
    screenshot,
    serve_directory,
    visible_text,
)
from drillbook.reporting.html_report import (
    ReportError,
    find_allure_cli,
    find_result,
    pinned_allure_version,
    render_html_report,
    reported_tests,
    result_url,
)

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

# pytester points HOME at its temporary directory to keep user configuration out of inner
# runs; the Allure CLI installed for this user lives under the real home (~/.cache), so
# remember it now, before any pytester fixture exists.
_REAL_HOME = os.environ.get("HOME", "")

SECRET = "s3cr3t-drill-token"
DRILL_TEST = "test_application_failure_drill"
BREACH_TEST = "test_application_failure_rto_breach"
RTO_FIGURE = "RTO 1.23 s"
STEPS = (
    "inject: stop the application process",
    f"inject: supervisorctl stop app (auth {SECRET})",
    "detect: first unhealthy probe sample",
    "runbook: restart the application",
    "runbook: supervisorctl start app",
    "verify: 5 healthy samples in a row",
)

INNER_TESTS = f'''
import json

import allure

from drillbook.core.timeline import Event, EventKind, Sample, SampleStatus
from drillbook.reporting.chart import render_timeline_svg


def _labels(story):
    allure.dynamic.epic("monthly")
    allure.dynamic.feature("application-failure")
    allure.dynamic.story(story)
    allure.dynamic.severity(allure.severity_level.CRITICAL)


def test_application_failure_drill():
    _labels("kill the reference service \u2014 Z\u00fcrich \u2713")
    allure.dynamic.label("rto", "{RTO_FIGURE}")
    allure.dynamic.parameter("measured", "{RTO_FIGURE}")
    with allure.step("{STEPS[0]}"):
        with allure.step("{STEPS[1]}"):
            pass
    with allure.step("{STEPS[2]}"):
        pass
    with allure.step("{STEPS[3]}"):
        with allure.step("{STEPS[4]}"):
            pass
        with allure.step("{STEPS[5]}"):
            pass
    samples = [
        Sample("http", 0.25 * i, 0.25 * i + 0.01,
               SampleStatus.DOWN if 4 <= i < 9 else SampleStatus.OK)
        for i in range(16)
    ]
    events = [
        Event(1.0, 0.0, EventKind.FAULT_INJECTED, "stop app"),
        Event(1.1, 0.0, EventKind.DETECTED, "first unhealthy sample"),
        Event(1.2, 0.0, EventKind.RECOVERY_STARTED, "runbook"),
        Event(2.0, 0.0, EventKind.RECOVERY_FINISHED, "runbook"),
        Event(2.23, 0.0, EventKind.RECOVERED, "healthy streak"),
    ]
    allure.attach(
        json.dumps({{"rto_seconds": 1.23, "objective_seconds": 10.0}}),
        name="rto.json",
        attachment_type=allure.attachment_type.JSON,
    )
    allure.attach(
        render_timeline_svg(samples, events, origin=0.0, title="app failure: {RTO_FIGURE}"),
        name="timeline.svg",
        attachment_type=allure.attachment_type.SVG,
    )


def test_application_failure_rto_breach():
    _labels("kill the reference service \u2014 Z\u00fcrich \u2713")
    with allure.step("inject: stop the application process"):
        pass
    assert False, "RTO breach: 12.40 s > objective 10.00 s"
'''


@pytest.fixture
def real_home(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> Iterator[None]:
    """Undo pytester's HOME redirection for the tool look-ups (see _REAL_HOME)."""
    if _REAL_HOME:
        monkeypatch.setenv("HOME", _REAL_HOME)
    yield


def require_tools() -> None:
    """Fail (not skip, not error in a fixture) when a tool is missing: MissingDependency
    says how to install it, and nothing in these tests means anything without both."""
    find_allure_cli()
    find_chromium()


def drill_results(pytester: pytest.Pytester) -> Path:
    """Allure results of the generated drill tests, with environment and categories files."""
    pytester.makepyfile(test_application_failure=INNER_TESTS)
    results = pytester.path / "allure-results"
    # A subprocess, not an in-process run: allure-pytest registers itself in a process-wide
    # plugin manager, which would mix the inner results with an outer --alluredir run.
    # The drillbook plugin is left out: the inner tests are plain allure-pytest tests.
    run = pytester.runpytest_subprocess(
        f"--alluredir={results}", "-p", "no:cacheprovider", "-p", "no:drillbook", timeout=120
    )
    run.assert_outcomes(passed=1, failed=1)
    write_environment_properties(
        results,
        {
            "platform": "local stack",
            "target url": "http://127.0.0.1:8080/health?probe=a:b",
            "site": "Z\u00fcrich \u2713",
            "db password": SECRET,
        },
    )
    write_categories(results)
    return results


def _screenshot_path(rootpath: Path, test_name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in test_name)
    return rootpath / "reports" / "screenshots" / f"{safe}.png"


def test_report_shows_drill_steps_and_rto(
    pytester: pytest.Pytester,
    real_home: None,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    require_tools()
    results_dir = drill_results(pytester)
    redactor = Redactor()
    redactor.add(SECRET)
    report_dir = tmp_path / "report \u2713"  # non-ASCII path on purpose

    started = time.monotonic()
    index = render_html_report(
        results_dir, report_dir, single_file=True, name="drillbook drills \u2713", redactor=redactor
    )
    render_seconds = time.monotonic() - started
    record_property("render_seconds", round(render_seconds, 2))

    assert index == report_dir.resolve() / "index.html"
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "index.html",
        "summary.json",
        "test-results.json",
    ], "single-file report: no data folder"
    html = index.read_text(encoding="utf-8")
    assert SECRET not in html
    assert "googletagmanager" not in html
    assert {t.name: t.status for t in reported_tests(report_dir)} == {
        DRILL_TEST: "passed",
        BREACH_TEST: "failed",
    }

    with serve_directory(report_dir) as base:
        landing_url = base + "index.html"
        landing = visible_text(dump_dom(landing_url))
        # The tree lists both tests by name: Allure 3 opens groups that contain a failure
        # (all-passed groups start collapsed, see render_html_report).
        assert "drillbook drills \u2713" in landing
        assert DRILL_TEST in landing and BREACH_TEST in landing
        assert "monthly" in landing and "application-failure" in landing
        # environment.properties, read back by Allure through its own parser.
        assert "target url http://127.0.0.1:8080/health?probe=a:b" in landing
        assert "site Z\u00fcrich \u2713" in landing
        assert f"db password {PLACEHOLDER}" in landing

        categories = visible_text(dump_dom(landing_url + "#/categories"))
        assert "RTO breach 1" in categories

        drill = find_result(report_dir, DRILL_TEST)
        page_url = result_url(landing_url, drill.id)
        assert page_url == f"{base}index.html#/{drill.id}"
        page = visible_text(dump_dom(page_url))
        assert DRILL_TEST in page and "Passed" in page
        expected_steps = [s.replace(SECRET, PLACEHOLDER) for s in STEPS]
        positions = [page.find(step) for step in expected_steps]
        assert -1 not in positions, f"steps missing from the page: {page}"
        assert positions == sorted(positions), "steps out of order"
        assert SECRET not in page
        assert RTO_FIGURE in page  # both as label value and as parameter value
        assert "rto.json" in page and "timeline.svg" in page
        assert "kill the reference service \u2014 Z\u00fcrich \u2713" in page

        shot = _screenshot_path(request.config.rootpath, request.node.name)
        started = time.monotonic()
        screenshot(page_url, shot, width=1400, height=900)
        screenshot_seconds = time.monotonic() - started
        record_property("screenshot_seconds", round(screenshot_seconds, 2))

    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1400, 900)
    assert len(png) > 20_000, "a blank page compresses to a few kB"
    print(
        f"\nrender {render_seconds:.2f} s, screenshot {screenshot_seconds:.2f} s, "
        f"page {page_url}, screenshot {shot}"
    )


def test_multi_file_report_served_over_http(
    pytester: pytest.Pytester, real_home: None, tmp_path: Path
) -> None:
    require_tools()
    report_dir = tmp_path / "report"
    index = render_html_report(drill_results(pytester), report_dir, single_file=False)
    assert (report_dir / "data").is_dir()
    drill = find_result(report_dir, DRILL_TEST)
    with serve_directory(report_dir) as base:
        page = visible_text(dump_dom(result_url(base, drill.id)))
    assert index.is_file()
    assert STEPS[-1] in page and RTO_FIGURE in page


def test_empty_and_missing_results(tmp_path: Path, real_home: None) -> None:
    require_tools()
    empty = tmp_path / "empty-results"
    empty.mkdir()
    index = render_html_report(empty, tmp_path / "empty-report")
    assert reported_tests(index.parent) == []
    landing = visible_text(dump_dom(index.as_uri()))  # single file: works from file:// too
    assert "drillbook drills" in landing

    with pytest.raises(ReportError, match="does not exist"):
        render_html_report(tmp_path / "missing", tmp_path / "missing-report")

    # A results path with glob characters (the CLI takes patterns) still works.
    odd = tmp_path / "results [1] {a,b} *"
    odd.mkdir()
    result = {"uuid": "u1", "name": "test_odd_path", "status": "passed", "start": 1, "stop": 2}
    (odd / "x-result.json").write_text(json.dumps(result), encoding="utf-8")
    index = render_html_report(odd, tmp_path / "odd-report")
    assert [t.name for t in reported_tests(index.parent)] == ["test_odd_path"]

    # Never wipe a folder that is not a report.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ReportError, match="neither empty nor a previous report"):
        render_html_report(empty, precious)
    assert (precious / "notes.txt").is_file()


def test_failing_cli_reports_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "allure"
    fake.write_text("#!/bin/sh\necho 'boom: something broke' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("DRILLBOOK_ALLURE_BIN", str(fake))
    results = tmp_path / "results"
    results.mkdir()
    with pytest.raises(ReportError, match=r"exit status 3(.|\n)*boom: something broke"):
        render_html_report(results, tmp_path / "report")


def test_missing_allure_cli_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRILLBOOK_ALLURE_BIN", raising=False)
    monkeypatch.setenv("DRILLBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(MissingDependency) as caught:
        find_allure_cli()
    message = str(caught.value)
    assert message.startswith("Allure Report 3 CLI not found (looked in ")
    assert str(tmp_path / "cache" / "npm" / f"allure-{pinned_allure_version()}") in message
    assert message.endswith("install it with: bash scripts/install-allure.sh")

    monkeypatch.setenv("DRILLBOOK_ALLURE_BIN", str(tmp_path / "nope"))
    with pytest.raises(MissingDependency, match="DRILLBOOK_ALLURE_BIN"):
        find_allure_cli()


def test_allure_2_on_path_is_not_taken_for_allure_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    allure2 = bin_dir / "allure"
    allure2.write_text("#!/bin/sh\necho 2.32.0\n", encoding="utf-8")
    allure2.chmod(0o755)
    monkeypatch.delenv("DRILLBOOK_ALLURE_BIN", raising=False)
    monkeypatch.setenv("DRILLBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(MissingDependency, match="not Allure 3: reports major version 2"):
        find_allure_cli()
    allure2.write_text("#!/bin/sh\necho 3.18.0\n", encoding="utf-8")
    assert find_allure_cli() == allure2


def test_missing_chromium_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRILLBOOK_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependency, match="install it with: apt-get install chromium"):
        find_chromium()


def test_serve_directory_serves_and_stops(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi \u2713", encoding="utf-8")
    with serve_directory(tmp_path) as base:
        port = int(base.rsplit(":", 1)[1].strip("/"))
        assert 20000 <= port <= 32000 and base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "hello.txt", timeout=10) as answer:
            assert answer.read().decode("utf-8") == "hi \u2713"
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "hello.txt", timeout=2)
