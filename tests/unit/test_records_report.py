"""The drill report's text and its prefilled lessons, the trend chart's SVG, and what
`drillbook history` prints, from invented records."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from drillbook.core.record import CheckRecord, FindingRecord
from drillbook.records.drill_report import drill_report_markdown, lessons
from drillbook.records.pdf import markdown_to_html
from drillbook.records.store import RunInfo, SqliteHistory, as_stored
from drillbook.records.trend import render_trend_svg, trend_points
from drillbook.records.views import history_json, history_table
from tests.unit.test_records_store import make_record

RUN = RunInfo("run-a", 1_780_000_000.0, "local", "eleanor")
SVG = "{http://www.w3.org/2000/svg}"


def test_the_lessons_name_the_slowest_step_a_thin_margin_and_a_check_that_could_not_run() -> None:
    record = make_record(
        rto=10.0,
        rto_objective=11.0,
        phases=(("detect", 0.5), ("recover", 8.0), ("recovered", 1.5)),
        checks_not_run=(("critical endpoints respond", "no end-to-end probe on this cluster"),),
    )
    found = lessons(record)
    assert found[0].startswith("The step that took most of the RTO: recovery runbook executed")
    assert "8.00 s of 10.00 s (80 %)" in found[0]
    assert any(
        item.startswith("RTO objective met with little margin: 10.00 s of 11s") for item in found
    )
    assert any("could not run: critical endpoints respond" in item for item in found)


def test_a_missed_objective_a_failed_check_and_a_finding_are_lessons() -> None:
    record = make_record(
        outcome="failed",
        rto=3.0,
        rto_objective=0.1,
        checks=(CheckRecord("error rates normal", False, "12% errors after recovery"),),
        findings=(FindingRecord("shutdown-grace", "app", "killed at the end of its grace"),),
    )
    text = " ".join(lessons(record))
    assert "RTO objective missed: 3.00 s against 100ms" in text
    assert "A check failed: error rates normal: 12% errors after recovery" in text
    assert "Finding (shutdown-grace) at app" in text
    assert "little margin" not in text


def test_a_comfortable_drill_has_only_its_slowest_step() -> None:
    assert len(lessons(make_record())) == 1


def test_the_report_in_the_plans_terms() -> None:
    records = [make_record(), make_record(scenario="cache-failure", option="Option A")]
    text = drill_report_markdown(
        records, RUN, finished_wall=RUN.started_wall + 60, trend_images={"cache-failure": "t.svg"}
    )
    for heading in (
        "# Disaster-recovery drill report, 2026-05-28",
        "### What was simulated",
        "### Recovery procedure, step by step",
        "### Data lost",
        "### Verification checklist",
        "### Findings",
        "### Lessons learned / procedure updates",
    ):
        assert heading in text, heading
    assert text.count("### Lessons learned") == 2
    assert "| recover | recovery runbook executed | 1.50 s |" in text
    assert "0 of 30 acknowledged writes lost, RPO 0.0 s, within the objective 5m." in text
    assert "![RTO and RPO of cache-failure over time](t.svg)" in text
    html = markdown_to_html(text, title="r")
    assert "<table>" in html and "<h3>Lessons learned / procedure updates</h3>" in html


def test_the_trend_has_one_point_per_drill_and_the_objective_as_a_line() -> None:
    drills = [
        as_stored(RunInfo(f"run-{i}", 1_780_000_000.0 + i * 86400, "local", "e"), record)
        for i, record in enumerate(
            make_record(started_wall=1_780_000_000.0 + i * 86400, rto=rto, rto_objective=5.0)
            for i, rto in enumerate((1.5, 2.5, 6.0))
        )
    ]
    drills.append(as_stored(RUN, make_record(scenario="cache-failure")))
    points = trend_points(drills, "application-failure")
    svg = ET.fromstring(render_trend_svg("application-failure", points))
    rto = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "rto-point"]
    assert [float(c.get("data-seconds", "")) for c in rto] == [1.5, 2.5, 6.0]
    assert [c.get("data-run") for c in rto] == ["run-0", "run-1", "run-2"]
    xs = [float(c.get("cx", "")) for c in rto]
    assert xs == sorted(xs) and len(set(xs)) == 3
    (objective,) = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "rto-objective"]
    # The 6 s point breached the 5 s line: it is drawn above it (smaller y).
    assert (
        float(rto[2].get("cy", "")) < float(objective.get("y1", "")) < float(rto[1].get("cy", ""))
    )
    rpo = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "rpo-point"]
    assert len(rpo) == 3
    # The RPO objective (5 min) is far above zero loss: named, not drawn.
    assert any(t.get("class") == "rpo-objective-off-scale" for t in svg.iter(f"{SVG}text"))


def test_history_listing(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3")
    store.append(RUN, make_record(rto=1.98))
    store.append(RUN, make_record(scenario="cache-failure", option="B", outcome="failed", rpo=None))
    table = history_table(store.drills())
    assert table[0].split() == [
        "run",
        "started",
        "(UTC)",
        "drill",
        "verdict",
        "RTO",
        "/",
        "objective",
        "RPO",
        "/",
        "objective",
    ]
    assert "application-failure / all replicas lost  passed" in table[2]
    assert "1.98 s / 15m" in table[2] and "0.00 s / 5m" in table[2]
    assert "failed" in table[3] and table[3].rstrip().endswith("-")
    assert table[-1] == "2 drill(s) in 1 run(s)"
    document = json.loads(history_json(store.drills()))
    assert [len(run["drills"]) for run in document["runs"]] == [2]
    assert history_table([]) == ["no drill recorded yet"]
