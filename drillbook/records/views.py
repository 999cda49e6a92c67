"""What `drillbook history` and `drillbook status` print: the history as a table or JSON, the
schedule's status per scenario. Pure: stored drills and statuses in, text out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from drillbook.config.durations import format_duration
from drillbook.records.schedule import ScenarioStatus
from drillbook.records.store import StoredDrill

__all__ = [
    "history_json",
    "history_table",
    "passed_times",
    "status_json",
    "status_table",
]


def _when(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _figure(seconds: float | None, objective: float | None) -> str:
    if seconds is None:
        return "-"
    text = f"{seconds:.2f} s"
    return text if objective is None else f"{text} / {format_duration(objective)}"


def history_table(drills: Sequence[StoredDrill]) -> list[str]:
    """One row per drill, grouped by run (oldest first): RTO, RPO and verdicts."""
    if not drills:
        return ["no drill recorded yet"]
    header = ("run", "started (UTC)", "drill", "verdict", "RTO / objective", "RPO / objective")
    rows = [
        (
            d.run.run_id,
            _when(d.started_wall),
            f"{d.scenario} / {d.option}" if d.option else d.scenario,
            d.outcome,
            _figure(d.rto_seconds, d.rto_objective_seconds),
            _figure(d.rpo_seconds, d.rpo_objective_seconds),
        )
        for d in drills
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    runs = len({d.run.run_id for d in drills})
    lines.append(f"{len(drills)} drill(s) in {runs} run(s)")
    return lines


def history_json(drills: Sequence[StoredDrill]) -> str:
    """The runs, each with its drills' records (as in the run's JSON file)."""
    runs: dict[str, dict[str, Any]] = {}
    for drill in drills:
        run = runs.setdefault(
            drill.run.run_id,
            {
                "run_id": drill.run.run_id,
                "started_wall": drill.run.started_wall,
                "platform": drill.run.platform,
                "target": drill.run.target,
                "drills": [],
            },
        )
        run["drills"].append(drill.record)
    return json.dumps({"runs": list(runs.values())}, indent=2)


def passed_times(drills: Sequence[StoredDrill]) -> dict[str, list[dt.datetime]]:
    """When each scenario's drills passed (aware UTC times)."""
    passed: dict[str, list[dt.datetime]] = {}
    for drill in drills:
        if drill.passed:
            when = dt.datetime.fromtimestamp(drill.started_wall, dt.UTC)
            passed.setdefault(drill.scenario, []).append(when)
    return passed


def status_table(statuses: Sequence[ScenarioStatus], now: dt.datetime) -> list[str]:
    lines = [f"schedule status at {now.isoformat(timespec='minutes')}"]
    for status in statuses:
        last = (
            "never passed"
            if status.last_passed is None
            else f"last passed {status.last_passed.isoformat(timespec='minutes')}"
        )
        state = (
            f"OVERDUE since {status.overdue_since.isoformat()}"
            if status.overdue and status.overdue_since is not None
            else "ok"
        )
        lines.append(
            f"  {status.scenario} ({status.cadence}): {state}; {last}; "
            f"next due {status.next_due.isoformat()}"
        )
    overdue = [s.scenario for s in statuses if s.overdue]
    lines.append(
        f"{len(overdue)} scenario(s) overdue: {', '.join(overdue)}"
        if overdue
        else "every scenario is on schedule"
    )
    return lines


def status_json(statuses: Sequence[ScenarioStatus], now: dt.datetime) -> str:
    return json.dumps(
        {
            "now": now.isoformat(),
            "scenarios": [
                {
                    "scenario": s.scenario,
                    "cadence": s.cadence,
                    "last_passed": None if s.last_passed is None else s.last_passed.isoformat(),
                    "next_due": s.next_due.isoformat(),
                    "overdue": s.overdue,
                    "overdue_since": None
                    if s.overdue_since is None
                    else s.overdue_since.isoformat(),
                }
                for s in statuses
            ],
        },
        indent=2,
    )
