"""Writes a drill into its Allure result: labels, one step per phase, figures, attachments.

A subscriber of the drill (see drillbook.core.observer); everything it writes passes through
the redactor, and its own failures are logged by the drill, never fatal.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import allure
from allure_commons.types import AttachmentType, Severity

from drillbook.core.redaction import REDACTOR
from drillbook.core.timeline import EventKind
from drillbook.reporting.chart import render_timeline_svg

if TYPE_CHECKING:
    from drillbook.core.record import DrillRecord
    from drillbook.engine.drill import Drill
    from drillbook.target import Target

_SEVERITY = {
    "critical": Severity.CRITICAL,
    "non_critical": Severity.NORMAL,
    "full": Severity.BLOCKER,
}
_LOG_LINES = 100


def _attach_text(text: str, name: str, kind: Any) -> None:
    allure.attach(REDACTOR.redact(text), name=name, attachment_type=kind)


class AllureObserver:
    """Reports one drill to allure-pytest (inactive when pytest runs without --alluredir)."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._steps: list[Any] = []
        self._chart: str | None = None

    def _label(self, drill: Drill) -> None:
        # Called once, when the drill finishes: allure-pytest rewrites the result's name and
        # description after fixture setup, so anything set while the baseline runs is lost.
        identity = drill.identity
        allure.dynamic.epic(f"{identity.cadence} drills")
        allure.dynamic.feature(identity.scenario)
        if identity.option:
            allure.dynamic.story(identity.option)
        allure.dynamic.severity(_SEVERITY.get(identity.tier, Severity.NORMAL))
        allure.dynamic.tag(f"tier:{identity.tier}")
        allure.dynamic.tag(f"platform:{drill.platform.name}")
        allure.dynamic.title(identity.title)

    def phase_started(self, drill: Drill, phase: str, title: str) -> None:
        step = allure.step(REDACTOR.redact(title))
        step.__enter__()
        self._steps.append(step)

    def phase_finished(self, drill: Drill, phase: str, error: BaseException | None) -> None:
        if not self._steps:
            return
        step = self._steps.pop()
        if error is None:
            step.__exit__(None, None, None)
        else:
            step.__exit__(type(error), error, error.__traceback__)

    def recorded(self, record: DrillRecord) -> None:
        """The drill's figures, from its record: parameters, description, figures.json."""
        # The headline figures as parameters: they show on the result page's overview and in
        # its text (the description is rendered in a frame); excluded from the history id so
        # that runs of the same drill stay one history.
        for name, value in _headline(record).items():
            allure.dynamic.parameter(name, value, excluded=True)
        # Which fault and which recovery option, on the overview next to the figures.
        if record.fault is not None:
            allure.dynamic.parameter("fault", REDACTOR.redact(record.fault), excluded=True)
        if record.option:
            allure.dynamic.parameter("recovery option", record.option, excluded=True)
        # The chart goes into the description too, so the drill's page shows it without a click.
        allure.dynamic.description_html(_figures_html(record) + _chart_html(self._chart))
        _attach_text(
            json.dumps(record.to_json(), indent=2, default=str),
            "figures.json",
            AttachmentType.JSON,
        )

    def drill_finished(self, drill: Drill) -> None:
        # What only the live drill has: its timeline, chart, attachments and log tails. The
        # figures come with `recorded`, from the drill's record (as the terminal summary's).
        self._label(drill)
        origin = drill.fault_at if drill.fault_at is not None else drill.started_at
        svg = render_timeline_svg(
            [s for s in drill.timeline.samples if s.probe in drill.probe_names],
            drill.timeline.events,
            origin=origin,
            title=f"{drill.identity.scenario}: {drill.identity.option or drill.identity.title}",
            origin_label="drill start" if drill.fault_at is None else "fault",
        )
        self._chart = svg
        _attach_text(drill.timeline.to_json(origin), "timeline.json", AttachmentType.JSON)
        _attach_text(drill.timeline.samples_csv(origin), "probe-samples.csv", AttachmentType.CSV)
        _attach_text(svg, "timeline-chart.svg", AttachmentType.SVG)
        for companion in drill.companions:
            for attachment in companion.attachments():
                allure.attach(
                    REDACTOR.redact(attachment.content),
                    name=attachment.name,
                    attachment_type=attachment.mime,
                )
        for component in _affected_components(drill):
            try:
                tails = drill.platform.log_tail(component, lines=_LOG_LINES)
            except Exception as exc:  # logs are evidence, not a verdict: report the gap
                tails = {component: f"log tail unavailable: {exc}"}
            for replica, text in tails.items():
                if text:  # replicas that never ran (spare capacity for scaling) have no log
                    _attach_text(text, f"log tail {replica}", AttachmentType.TEXT)


def _chart_html(svg: str | None) -> str:
    if svg is None:
        return ""
    # As an <img> data URI because the report's HTML sanitiser drops inline <svg>.
    chart = base64.b64encode(REDACTOR.redact(svg).encode()).decode()
    return f'<p><img alt="timeline chart" src="data:image/svg+xml;base64,{chart}"/></p>'


def _affected_components(drill: Drill) -> list[str]:
    names: list[str] = []
    for event in drill.timeline.events:
        if event.kind is EventKind.FAULT_INJECTED and drill.fault is not None:
            component = drill.fault.undo.args.get("component")
            if isinstance(component, str) and component not in names:
                names.append(component)
    return names


def _headline(record: DrillRecord) -> dict[str, str]:
    rto = record.rto
    if rto is None:
        return {"RTO": "not measured"}
    headline = {
        "RTO": f"{rto.seconds:.3f} s (error bar -{rto.error_bar_seconds:.3f} s)",
        "RTO objective": f"{rto.objective_seconds:.0f} s ({record.tier})",
    }
    if record.detection_seconds is not None:
        headline["time to detect"] = f"{record.detection_seconds:.3f} s"
    pods = record.companions.get("pod_recovery")  # Kubernetes: the API server's clock
    if isinstance(pods, Mapping) and isinstance(pods.get("rto_server_seconds"), float):
        replaced = pods.get("pods_recovered")
        rollout = pods.get("rollout")
        how = (
            f"{replaced} of {pods.get('pods_killed')} killed pods replaced and Ready"
            if pods.get("pods_killed")
            else f"{rollout.get('component')} whole again on new pods"
            if isinstance(rollout, Mapping)
            else ""
        )
        headline["RTO (server time)"] = (
            f"{pods['rto_server_seconds']:.0f} s (±{pods.get('timestamp_resolution_seconds')} s;"
            f" {how})"
        )
    if record.rpo is not None:  # the write ledger's data-loss figures (drillbook.ledger)
        headline["RPO"] = (
            f"{record.rpo.seconds:.3f} s ({record.rpo.lost} of "
            f"{record.rpo.acknowledged} acknowledged writes lost)"
        )
    return headline


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _figures_html(record: DrillRecord) -> str:
    rto = record.rto
    rows_data: list[tuple[str, Any]] = [
        ("RTO (s, upper bound)", None if rto is None else rto.seconds),
        ("RTO error bar (s)", None if rto is None else rto.error_bar_seconds),
        ("recovery's first healthy answer took (s)", None if rto is None else rto.answer_seconds),
        ("RTO objective (s)", None if rto is None else rto.objective_seconds),
        ("time to detect (s)", record.detection_seconds),
        ("outage seen by users (s)", record.outage_seconds),
        ("outage observed", None if rto is None else rto.outage_observed),
        ("flaps before recovery", record.flaps),
        ("relapses (flaps after looking recovered)", record.relapses),
        ("probe interval (s)", record.probe_interval_seconds),
        ("healthy samples to count as recovered", record.healthy_streak),
        ("verdict", record.verdict),
    ]
    rows = [
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(_fmt(value))}</td></tr>"
        for label, value in rows_data
    ]
    for name, seconds in record.phases:
        rows.append(f"<tr><th>phase {html.escape(name)} (s)</th><td>{seconds:.3f}</td></tr>")
    for check in record.checks:
        mark = "passed" if check.passed else "FAILED"
        rows.append(
            f"<tr><th>check: {html.escape(check.name)}</th><td>{mark}: "
            f"{html.escape(check.detail)}</td></tr>"
        )
    for name, reason in record.checks_not_run:
        rows.append(f"<tr><th>check: {html.escape(name)}</th><td>{html.escape(reason)}</td></tr>")
    headline = (
        f"<p><b>RTO {rto.seconds:.3f} s</b> (error bar -{rto.error_bar_seconds:.3f} s)"
        f" against an objective of {rto.objective_seconds} s</p>"
        if rto is not None
        else "<p><b>RTO: not measured</b></p>"
    )
    return REDACTOR.redact(headline + "<table>" + "".join(rows) + "</table>")
