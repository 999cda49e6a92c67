"""The drill report in the plan's terms, as Markdown: what was simulated, the recovery procedure
step by step with measured times against the objective, data lost, the verification checklist,
findings, and "lessons learned / procedure updates" prefilled from the figures.

Pure: records in, text out. The prefilled lessons are what the figures show (the step that took
most of the RTO, an objective met with little margin or missed, a check that could not run or
failed, a finding, a flapping recovery); the team reviews and completes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from drillbook.config.durations import format_duration
from drillbook.core.record import DrillRecord
from drillbook.core.redaction import REDACTOR
from drillbook.records.figures import drill_name, rpo_text, rto_text
from drillbook.records.store import RunInfo

__all__ = ["LITTLE_MARGIN", "PHASE_WORDS", "drill_report_markdown", "lessons"]

LITTLE_MARGIN = 0.8
"""An objective met with less than 20 % to spare is "met with little margin"."""

PHASE_WORDS: Mapping[str, str] = {
    "baseline": "steady state confirmed before the fault",
    "inject": "fault injected",
    "detect": "outage detected by the probes",
    "recover": "recovery runbook executed",
    "recovered": "service healthy again (consecutive healthy samples that last)",
    "verify": "verification checklist",
    "objectives": "objectives judged",
    "undo": "every fault undone",
}
"""The drill's phases in the plan's words."""

_RTO_PHASES = ("detect", "recover", "recovered")
"""The phases between the fault and recovery: together they make the RTO."""


def lessons(record: DrillRecord) -> list[str]:
    """What the figures of one drill suggest for the procedure (each a sentence)."""
    found: list[str] = []
    rto = record.rto
    if rto is not None and rto.seconds > 0:
        slowest = max(_RTO_PHASES, key=record.phase_seconds)
        seconds = record.phase_seconds(slowest)
        if seconds > 0:
            percent = min(100.0, seconds / rto.seconds * 100)
            found.append(
                f"The step that took most of the RTO: {PHASE_WORDS[slowest]} ({slowest}), "
                f"{seconds:.2f} s of {rto.seconds:.2f} s ({percent:.0f} %). Shortening it "
                "shortens the recovery most."
            )
        share = rto.seconds / rto.objective_seconds
        if not rto.within_objective:
            found.append(
                f"RTO objective missed: {rto.seconds:.2f} s against "
                f"{format_duration(rto.objective_seconds)} ({share * 100:.0f} % of it). Update "
                "the procedure (or the objective, with the business owner) before the next drill."
            )
        elif share >= LITTLE_MARGIN:
            found.append(
                f"RTO objective met with little margin: {rto.seconds:.2f} s of "
                f"{format_duration(rto.objective_seconds)} ({share * 100:.0f} %)."
            )
    rpo = record.rpo
    if rpo is not None and rpo.objective_seconds > 0:
        share = rpo.seconds / rpo.objective_seconds
        if not rpo.within_objective:
            found.append(
                f"RPO objective missed: {rpo.lost} acknowledged writes lost, the oldest "
                f"{rpo.seconds:.1f} s old against {format_duration(rpo.objective_seconds)}."
            )
        elif share >= LITTLE_MARGIN:
            found.append(
                f"RPO objective met with little margin: {rpo.seconds:.1f} s of "
                f"{format_duration(rpo.objective_seconds)} ({share * 100:.0f} %)."
            )
    for name, reason in record.checks_not_run:
        found.append(f"A check could not run: {name} ({reason}). Make it runnable or replace it.")
    for check in record.checks:
        if not check.passed:
            found.append(f"A check failed: {check.name}: {check.detail}")
    for finding in record.findings:
        found.append(
            f"Finding ({finding.kind}) at {finding.component}: {finding.summary}. Fix the "
            "service, or write the workaround into the runbook."
        )
    if record.flaps:
        found.append(
            f"The service flapped {record.flaps} time(s) before it recovered for good "
            f"({record.relapses} after looking recovered): the runbook's end is not its "
            "recovery; say in it how long to watch."
        )
    if record.outcome in ("error", "aborted"):
        found.append(
            f"The drill did not run to its end ({record.outcome}): "
            f"{record.failure or 'no message'}."
        )
    return found


def drill_report_markdown(
    records: Sequence[DrillRecord],
    run: RunInfo,
    *,
    finished_wall: float,
    trend_images: Mapping[str, str] | None = None,
) -> str:
    """The run's drill report; `trend_images` maps a scenario to its trend chart's file name."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.outcome] = counts.get(record.outcome, 0) + 1
    tally = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    lines = [
        f"# Disaster-recovery drill report, {_day(run.started_wall)}",
        "",
        f"- Run: `{run.run_id}`, from {_time(run.started_wall)} to {_time(finished_wall)}",
        f"- Target: {run.target} (platform {run.platform})",
        f"- Drills: {len(records)} ({tally})",
        "",
    ]
    for record in records:
        lines += _drill_section(record, (trend_images or {}).get(record.scenario))
    return REDACTOR.redact("\n".join(lines).rstrip() + "\n")


def _drill_section(record: DrillRecord, trend_image: str | None) -> list[str]:
    lines = [
        f"## {_cell(drill_name(record))}: {record.outcome}",
        "",
        "### What was simulated",
        "",
        f"{_cell(record.title)} Scenario {record.scenario}, recovery option "
        f"{record.option or '-'}, tier {record.tier}, {record.cadence} drill.",
        f"Fault: {_cell(record.fault or 'none injected')}.",
        "",
        "### Recovery procedure, step by step",
        "",
        "| step | what happened | measured |",
        "| --- | --- | --- |",
    ]
    for phase, seconds in record.phases:
        lines.append(f"| {phase} | {PHASE_WORDS.get(phase, phase)} | {seconds:.2f} s |")
    lines += [
        "",
        f"Recovery time: {rto_text(record)}."
        + (
            ""
            if record.detection_seconds is None
            else f" Detected {record.detection_seconds:.2f} s after the fault."
        ),
    ]
    if record.verdict:
        lines.append(f"Verdict: {_cell(record.verdict)}")
    if record.failure:
        lines.append(f"Failure: {_cell(record.failure)}")
    loss = rpo_text(record)
    lines += ["", "### Data lost", "", f"{loss[0].upper()}{loss[1:]}.", ""]
    lines += ["### Verification checklist", ""]
    if record.checks or record.checks_not_run:
        lines += ["| item | result | detail |", "| --- | --- | --- |"]
        for check in record.checks:
            verdict = "passed" if check.passed else "FAILED"
            lines.append(f"| {_cell(check.name)} | {verdict} | {_cell(check.detail)} |")
        for name, reason in record.checks_not_run:
            lines.append(f"| {_cell(name)} | not run | {_cell(reason)} |")
    else:
        lines.append("No checklist item ran.")
    lines += ["", "### Findings", ""]
    if record.findings:
        for finding in record.findings:
            lines.append(f"- {finding.kind} at {finding.component}: {_cell(finding.summary)}")
    else:
        lines.append("None.")
    lines += ["", "### Lessons learned / procedure updates", ""]
    lines.append("_Prefilled from the figures; review and complete._")
    lines.append("")
    found = lessons(record)
    lines += [f"- {_cell(item)}" for item in found] or [
        "- The figures show no issue: the procedure as written met its objectives."
    ]
    if trend_image is not None:
        lines += ["", f"![RTO and RPO of {record.scenario} over time]({trend_image})"]
    lines.append("")
    return lines


def _cell(text: str) -> str:
    # One line, and no "|" to break a table row.
    return " ".join(text.split()).replace("|", "/")


def _day(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d")


def _time(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
