"""The README's main command, as a new user runs it: set-up, the monthly drills on the embedded
stack, and an HTML report that shows the application-failure drill with its steps, its RTO and
its timeline chart (opened in headless Chromium; the screenshot is kept as an artifact).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from drillbook.core.record import DrillRecord
from drillbook.reporting.browser import dump_dom, screenshot, serve_directory, visible_text
from drillbook.reporting.html_report import find_result, result_url
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

DRILL_TITLE = "Every application replica killed: recovered by the plan's rollout restart."
SCREENSHOT = REPO / "reports" / "screenshots" / "main-job-application-failure.png"


@pytest.fixture(scope="module")
def main_job() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/run-monthly-drills.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )


def test_main_command_runs_the_monthly_drills_and_exits_0(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    assert main_job.returncode == 0, main_job.stdout[-4000:] + main_job.stderr[-2000:]
    # Every monthly drill passed (exit 0); how many there are grows with the scenarios.
    passed = re.search(r"(\d+) passed", main_job.stdout)
    assert passed is not None and int(passed.group(1)) >= 2, main_job.stdout[-2000:]
    assert (REPO / "reports" / "html" / "index.html").is_file()
    assert (REPO / "reports" / "allure-results" / "environment.properties").is_file()
    assert (REPO / "reports" / "allure-results" / "categories.json").is_file()


def test_report_page_shows_the_drill_steps_rto_and_chart(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    assert main_job.returncode == 0, main_job.stdout[-4000:]
    report = REPO / "reports" / "html"
    drill = find_result(report, DRILL_TITLE)
    assert drill.status == "passed"
    with serve_directory(report) as base:
        page_url = result_url(base + "/index.html", drill.id)
        page = visible_text(dump_dom(page_url, wait_ms=4000))
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page_url, SCREENSHOT, width=1400, height=1400, wait_ms=4000)
    assert DRILL_TITLE in page
    for step in (
        "inject: kill every replica of app (SIGKILL)",
        "detect: the probes see the outage",
        "recover: kubectl rollout restart deployment/eleanor-v8 -n eleanor-v8",
        "wait until recovered: 3 consecutive healthy samples",
        "verify: health checks passing, critical endpoints responding, error rates normal",
        "objectives: RTO for tier critical",
    ):
        assert step in page, f"step {step!r} missing from the report page"
    # allure-pytest shows parameter values quoted
    rto = re.search(r"RTO\s*'(\d+\.\d{3}) s \(error bar -(\d+\.\d{3}) s\)'", page)
    assert rto is not None, "the RTO figure is missing from the report page"
    assert 0 < float(rto.group(1)) < 900
    assert "timeline-chart.svg" in page
    assert SCREENSHOT.stat().st_size > 10_000


def test_summary_and_run_file_show_the_figures_the_report_shows(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    """The terminal summary, the run's JSON file and the Allure result agree on each figure."""
    assert main_job.returncode == 0, main_job.stdout[-4000:]
    out = main_job.stdout
    assert "drillbook summary" in out, out[-3000:]
    # Progress: the drill's phases were printed as they happened.
    assert f"drill: {DRILL_TITLE}" in out
    assert "outage detected after" in out and "recovered: RTO" in out
    run_file = re.search(r"drill records \(JSON\): (\S+)", out)
    assert run_file is not None, out[-3000:]
    document = json.loads(Path(run_file.group(1)).read_text())
    records = [DrillRecord.from_json(d) for d in document["drills"]]
    record = next(r for r in records if r.title == DRILL_TITLE)
    assert record.outcome == "passed" and record.rto is not None
    assert document["outcomes"].get("passed", 0) >= 2
    # The same RTO in the summary row (2 decimals) and the Allure result (3 decimals).
    row = next(line for line in out.splitlines() if line.startswith(record.scenario + " / "))
    assert f"{record.rto.seconds:.2f} s (-{record.rto.error_bar_seconds:.2f})" in out, row
    allure = find_result(REPO / "reports" / "html", DRILL_TITLE)
    assert allure.status == record.outcome
    result_file = _allure_result_of(DRILL_TITLE)
    parameters = result_file.get("parameters", [])
    assert isinstance(parameters, list)
    shown = {p["name"]: p["value"] for p in parameters}
    assert shown.get("RTO", "").startswith(f"'{record.rto.seconds:.3f} s"), shown


def _allure_result_of(title: str) -> dict[str, object]:
    for path in (REPO / "reports" / "allure-results").glob("*-result.json"):
        data = json.loads(path.read_text())
        if data.get("name") == title or title.startswith(str(data.get("name", "")).rstrip(".")):
            return dict(data)
    raise AssertionError(f"no Allure result named {title!r}")


def test_the_stand_in_shows_no_finding_in_any_drill(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    """The stand-in has none of the defects findings report (drillbook.core.findings.KINDS):
    every watcher ran beside every monthly drill, and none raised one (no false alarm)."""
    assert main_job.returncode == 0, main_job.stdout[-4000:]
    run_file = re.search(r"drill records \(JSON\): (\S+)", main_job.stdout)
    assert run_file is not None, main_job.stdout[-3000:]
    document = json.loads(Path(run_file.group(1)).read_text())
    records = [DrillRecord.from_json(d) for d in document["drills"]]
    assert len(records) >= 10, [r.title for r in records]
    raised = {
        r.title: [f"{f.kind} at {f.component}: {f.summary}" for f in r.findings]
        for r in records
        if r.findings
    }
    assert raised == {}, raised
    assert "Finding (" not in main_job.stdout
