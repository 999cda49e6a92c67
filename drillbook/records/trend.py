"""Trend charts: a scenario's RTO and RPO over the runs in the history, objective as a line.

One self-contained SVG per scenario (like drillbook.reporting.chart: plain Python, no fonts or
scripts), two panels (RTO, RPO), one series per recovery option, one point per drill. Each
point is a `<circle class="rto-point">` (or "rpo-point") carrying its run and value as data
attributes, so a test (or a reader's browser tools) can count and read them.

The vertical scale fits the measured values; an objective far above them (15 minutes against a
2 s recovery) would flatten every point, so it is drawn as a line only when it is on the scale,
and otherwise named at the panel's top edge ("objective 15m: above the scale").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from drillbook.config.durations import format_duration
from drillbook.core.chart_axis import format_seconds, nice_step
from drillbook.core.redaction import REDACTOR
from drillbook.records.store import StoredDrill

__all__ = ["TrendPoint", "render_trend_svg", "trend_points"]

SERIES_COLOURS = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457")
_FONT = "font-family='DejaVu Sans, Arial, Helvetica, sans-serif'"
_PANEL_HEIGHT = 170.0
_LEFT = 64.0
_RIGHT_MARGIN = 20.0


@dataclass(frozen=True)
class TrendPoint:
    """One drill's figures in a trend."""

    run_id: str
    started_wall: float
    series: str
    """The recovery option (one line per option)."""
    outcome: str
    rto_seconds: float | None
    rto_objective_seconds: float | None
    rpo_seconds: float | None
    rpo_objective_seconds: float | None


def trend_points(drills: Sequence[StoredDrill], scenario: str) -> list[TrendPoint]:
    """The points of `scenario`, oldest first."""
    return [
        TrendPoint(
            run_id=d.run.run_id,
            started_wall=d.started_wall,
            series=d.option or d.nodeid,
            outcome=d.outcome,
            rto_seconds=d.rto_seconds,
            rto_objective_seconds=d.rto_objective_seconds,
            rpo_seconds=d.rpo_seconds,
            rpo_objective_seconds=d.rpo_objective_seconds,
        )
        for d in sorted(drills, key=lambda d: d.started_wall)
        if d.scenario == scenario
    ]


def render_trend_svg(scenario: str, points: Sequence[TrendPoint], *, width: int = 900) -> str:
    """The scenario's RTO and RPO over time as an SVG document (a string, no XML prolog)."""
    series = list(dict.fromkeys(p.series for p in points))
    colours = {name: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, name in enumerate(series)}
    legend_height = 18.0 * max(1, len(series))
    top = 40.0 + legend_height
    height = int(top + 2 * (_PANEL_HEIGHT + 50.0))
    times = [p.started_wall for p in points]
    t_min, t_max = (min(times), max(times)) if times else (0.0, 1.0)
    if t_max - t_min < 1.0:
        t_min, t_max = t_min - 0.5, t_max + 0.5
    right = width - _RIGHT_MARGIN

    def x_of(t: float) -> float:
        return _LEFT + 20.0 + (t - t_min) / (t_max - t_min) * (right - _LEFT - 40.0)

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' class='drillbook-trend' "
        f"data-scenario={_attr(scenario)} {_FONT} font-size='11'>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
        f"<text x='12' y='22' font-size='15' font-weight='bold'>"
        f"{_text(f'{scenario}: RTO and RPO over {len(points)} drills')}</text>",
    ]
    for index, name in enumerate(series):
        y = 40.0 + 18.0 * index
        parts.append(
            f"<rect x='12' y='{y - 9:.1f}' width='14' height='4' fill='{colours[name]}'/>"
            f"<text x='32' y='{y - 4:.1f}'>{_text(name)}</text>"
        )
    if not points:
        parts.append(f"<text x='{_LEFT}' y='{top + 40}'>no drills of this scenario yet</text>")
    for panel, (kind, label) in enumerate((("rto", "RTO (s)"), ("rpo", "RPO (s)"))):
        panel_top = top + panel * (_PANEL_HEIGHT + 50.0)
        parts += _panel(points, kind, label, panel_top, right, x_of, colours)
    if points:
        parts += _time_axis(points, top + 2 * (_PANEL_HEIGHT + 50.0) - 30.0, x_of)
    parts.append("</svg>")
    return "\n".join(parts)


def _panel(
    points: Sequence[TrendPoint],
    kind: str,
    label: str,
    panel_top: float,
    right: float,
    x_of: Callable[[float], float],
    colours: dict[str, str],
) -> list[str]:
    values = [
        (p, v)
        for p in points
        if (v := getattr(p, f"{kind}_seconds")) is not None and math.isfinite(v)
    ]
    objectives = [o for p in points if (o := getattr(p, f"{kind}_objective_seconds")) is not None]
    highest = max((v for _, v in values), default=0.0)
    v_max = max(highest * 1.3, 1.0)
    objective = objectives[-1] if objectives else None
    if objective is not None and objective <= v_max * 1.6:
        v_max = max(v_max, objective * 1.15)
    step = nice_step(v_max / 4.0)
    v_max = math.ceil(v_max / step) * step
    bottom = panel_top + _PANEL_HEIGHT

    def y_of(v: float) -> float:
        return bottom - v / v_max * _PANEL_HEIGHT

    parts = [
        f"<text x='12' y='{panel_top - 8:.1f}' font-weight='bold'>{_text(label)}</text>",
        f"<line x1='{_LEFT}' y1='{bottom:.1f}' x2='{right:.1f}' y2='{bottom:.1f}' stroke='#444'/>",
        f"<line x1='{_LEFT}' y1='{panel_top:.1f}' x2='{_LEFT}' y2='{bottom:.1f}' stroke='#444'/>",
    ]
    tick = 0.0
    while tick <= v_max + 1e-9:
        y = y_of(tick)
        parts.append(
            f"<line x1='{_LEFT - 4}' y1='{y:.1f}' x2='{right:.1f}' y2='{y:.1f}' stroke='#eee'/>"
            f"<text x='{_LEFT - 8}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{format_seconds(tick, step)}</text>"
        )
        tick += step
    if objective is not None:
        words = f"objective {format_duration(objective)}"
        if objective <= v_max:
            y = y_of(objective)
            parts.append(
                f"<line class='{kind}-objective' x1='{_LEFT}' y1='{y:.1f}' x2='{right:.1f}' "
                f"y2='{y:.1f}' stroke='#c62828' stroke-dasharray='6 4' stroke-width='1.5' "
                f"data-seconds='{objective:g}'/>"
                f"<text x='{right:.1f}' y='{y - 4:.1f}' text-anchor='end' fill='#c62828'>"
                f"{_text(words)}</text>"
            )
        else:
            parts.append(
                f"<text class='{kind}-objective-off-scale' x='{right:.1f}' "
                f"y='{panel_top + 4:.1f}' text-anchor='end' fill='#c62828' "
                f"data-seconds='{objective:g}'>{_text(words + ': above the scale')}</text>"
            )
    for name, colour in colours.items():
        mine = [(p, v) for p, v in values if p.series == name]
        if len(mine) > 1:
            path = " ".join(f"{x_of(p.started_wall):.1f},{y_of(v):.1f}" for p, v in mine)
            parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}'/>")
        for point, value in mine:
            # A red drill's point is hollow: the figure is real, the verdict was not green.
            fill = colour if point.outcome in ("passed", "xfailed") else "white"
            parts.append(
                f"<circle class='{kind}-point' cx='{x_of(point.started_wall):.1f}' "
                f"cy='{y_of(value):.1f}' r='4' fill='{fill}' stroke='{colour}' "
                f"stroke-width='2' data-run={_attr(point.run_id)} data-seconds='{value:.3f}' "
                f"data-outcome={_attr(point.outcome)}>"
                f"<title>{_text(f'{point.run_id}: {value:.2f} s ({point.outcome})')}</title>"
                "</circle>"
            )
    return parts


def _time_axis(points: Sequence[TrendPoint], y: float, x_of: Callable[[float], float]) -> list[str]:
    runs: dict[str, float] = {}
    for point in points:
        runs.setdefault(point.run_id, point.started_wall)
    labels = []
    last = len(runs) - 1
    for index, started in enumerate(runs.values()):
        stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M")
        # The outermost labels lean inwards, so the picture's edges do not cut them.
        anchor = "start" if index == 0 and last else "end" if index == last and last else "middle"
        labels.append(
            f"<text x='{x_of(started):.1f}' y='{y + 14 * (index % 2):.1f}' "
            f"text-anchor='{anchor}' fill='#444'>{_text(stamp)}</text>"
        )
    return labels


def _text(value: str) -> str:
    return escape(REDACTOR.redact(value))


def _attr(value: str) -> str:
    return quoteattr(REDACTOR.redact(value))
