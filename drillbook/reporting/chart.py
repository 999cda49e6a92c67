"""The drill timeline as a self-contained SVG picture.

One row per probe, one small coloured mark per sample, vertical lines for the moments that
define the measured figures (fault injected, detected, runbook start and end, recovered).
Written in plain Python, without matplotlib, so the picture can be attached to the Allure
report on any machine, and kept as a single string with no external fonts or scripts, so
it renders the same inside the report, in a browser tab and in a ticket.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from drillbook.core.chart_axis import format_seconds, nice_step
from drillbook.core.redaction import REDACTOR, Redactor
from drillbook.core.timeline import Event, EventKind, Sample, SampleStatus

STATUS_COLOURS: dict[SampleStatus, str] = {
    SampleStatus.OK: "#2e7d32",  # green
    SampleStatus.DOWN: "#e53935",  # red
    SampleStatus.ERROR: "#7f0000",  # dark red
    SampleStatus.THROTTLED: "#ffb300",  # amber
}
"""Fill colour of a sample mark, by status."""

EVENT_MARKERS: dict[EventKind, tuple[str, str]] = {
    EventKind.FAULT_INJECTED: ("fault", "#c62828"),
    EventKind.DETECTED: ("detected", "#6a1b9a"),
    EventKind.RECOVERY_STARTED: ("runbook start", "#1565c0"),
    EventKind.RECOVERY_FINISHED: ("runbook end", "#1565c0"),
    EventKind.RECOVERED: ("recovered", "#2e7d32"),
}
"""Event kinds drawn as vertical markers: label and line colour. Other kinds (phases,
notes) would only clutter the picture; they are in the timeline JSON attachment."""

EMPTY_MESSAGE = "no probe samples recorded"

MIN_WIDTH = 320
_FONT = "font-family='DejaVu Sans, Arial, Helvetica, sans-serif'"
_ROW_HEIGHT = 22
_MARK_WIDTH = 3.0
_CHAR_WIDTH = 6.6  # average glyph width at 11px, to size the probe-name column
_LABEL_LEVELS = 3  # event labels are staggered over this many lines to avoid overlaps
# Characters XML 1.0 forbids even when escaped; an exception message with a stray control
# character must not make the whole picture unparseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class _Scale:
    """Maps seconds since the origin to x pixels."""

    t_min: float
    t_max: float
    x_min: float
    x_max: float

    def x(self, t: float) -> float:
        span = self.t_max - self.t_min
        return self.x_min + (t - self.t_min) / span * (self.x_max - self.x_min)


def render_timeline_svg(
    samples: Sequence[Sample],
    events: Sequence[Event],
    *,
    origin: float,
    title: str,
    width: int = 960,
    redactor: Redactor | None = None,
    origin_label: str = "drill start",
) -> str:
    """The timeline of one drill as an SVG document (a string, UTF-8 safe, no XML prolog).

    `origin` is the monotonic time shown as 0 s, named by `origin_label` on the axis (the
    drill start, or the fault for a drill that injected one); every text
    (title, probe names, details) goes through `redactor` (default: the process-wide
    `REDACTOR`) and is XML-escaped. Works with no samples and no events at all.
    """
    if width < MIN_WIDTH:
        raise ValueError(f"width must be at least {MIN_WIDTH} px, got {width}")
    red = redactor if redactor is not None else REDACTOR

    def text(value: str) -> str:
        return escape(_XML_INVALID.sub("\ufffd", red.redact(value)))

    def attr(value: str) -> str:
        return quoteattr(_XML_INVALID.sub("\ufffd", red.redact(value)))

    kept = [s for s in samples if math.isfinite(s.sent_at) and math.isfinite(s.received_at)]
    markers = [e for e in events if e.kind in EVENT_MARKERS and math.isfinite(e.at)]
    probes = list(dict.fromkeys(s.probe for s in kept))  # first-seen order

    # Layout, top to bottom: title, legend, event labels, probe rows, axis with tick labels.
    name_column = min(
        220.0, max(70.0, _CHAR_WIDTH * (max((len(p) for p in probes), default=0) + 1))
    )
    left = 12.0 + name_column
    right = width - 16.0
    legend, legend_bottom = _legend(12.0, right, 34.0)
    label_top = legend_bottom + 4.0
    rows_top = label_top + 14.0 * _LABEL_LEVELS + 6.0
    rows_height = _ROW_HEIGHT * max(1, len(probes))
    axis_y = rows_top + rows_height + 6.0
    height = int(axis_y + 42.0)

    times = [0.0]
    times += [s.sent_at - origin for s in kept] + [s.received_at - origin for s in kept]
    times += [e.at - origin for e in markers]
    t_min, t_max = min(times), max(times)
    if t_max - t_min < 1.0:
        t_max = t_min + (10.0 if not kept and not markers else 1.0)
    step = nice_step((t_max - t_min) / 8.0)
    t_min = math.floor(t_min / step) * step
    t_max = math.ceil(t_max / step) * step
    scale = _Scale(t_min, t_max, left, right)

    out: list[str] = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label={attr(title)} {_FONT} "
        "font-size='11'>",
        f"<title>{text(title)}</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='12' y='22' font-size='15' font-weight='bold' fill='#212121'>{text(title)}"
        "</text>",
    ]
    out += legend

    # Probe rows: alternating bands make it easy to follow a row across a wide picture.
    for index, probe in enumerate(probes):
        y = rows_top + index * _ROW_HEIGHT
        band = "#f5f5f5" if index % 2 == 0 else "#ffffff"
        out.append(
            f"<rect class='row' x='{left:.1f}' y='{y:.1f}' width='{right - left:.1f}' "
            f"height='{_ROW_HEIGHT}' fill='{band}'/>"
        )
        out.append(
            f"<text class='probe' x='{left - 6:.1f}' y='{y + _ROW_HEIGHT / 2 + 4:.1f}' "
            f"text-anchor='end' fill='#212121'>{text(_shorten(probe, name_column))}"
            f"<title>{text(probe)}</title></text>"
        )
    if not kept:
        out.append(
            f"<text class='empty' x='{(left + right) / 2:.1f}' y='{rows_top + 15:.1f}' "
            f"text-anchor='middle' fill='#757575'>{text(EMPTY_MESSAGE)}</text>"
        )

    # Samples: a narrow mark at the send time; the tooltip carries the details a reader needs
    # when a mark looks surprising, the latency among them (a recovery is timed from the
    # answer of its first healthy sample, which a slow answer moves later than its mark).
    row_of = {probe: index for index, probe in enumerate(probes)}
    for sample in kept:
        t = sample.sent_at - origin
        x = scale.x(t) - _MARK_WIDTH / 2
        y = rows_top + row_of[sample.probe] * _ROW_HEIGHT + 4
        colour = STATUS_COLOURS.get(sample.status, "#9e9e9e")
        tip = f"{sample.probe} +{t:.3f} s: {sample.status}"
        if sample.http_status is not None:
            tip += f" (HTTP {sample.http_status})"
        tip += f", {sample.latency_seconds * 1000:.0f} ms"
        if sample.detail:
            tip += f" - {sample.detail}"
        out.append(
            f"<rect class='sample' data-status='{sample.status}' x='{x:.2f}' y='{y:.1f}' "
            f"width='{_MARK_WIDTH}' height='{_ROW_HEIGHT - 8}' fill='{colour}'>"
            f"<title>{text(tip)}</title></rect>"
        )

    # Axes and ticks.
    out.append(
        f"<line class='axis' x1='{left:.1f}' y1='{rows_top:.1f}' x2='{left:.1f}' "
        f"y2='{axis_y:.1f}' stroke='#424242'/>"
    )
    out.append(
        f"<line class='axis' x1='{left:.1f}' y1='{axis_y:.1f}' x2='{right:.1f}' "
        f"y2='{axis_y:.1f}' stroke='#424242'/>"
    )
    ticks = round((t_max - t_min) / step)
    for i in range(ticks + 1):
        t = t_min + i * step
        x = scale.x(t)
        out.append(
            f"<line class='tick' x1='{x:.1f}' y1='{axis_y:.1f}' x2='{x:.1f}' "
            f"y2='{axis_y + 4:.1f}' stroke='#424242'/>"
        )
        out.append(
            f"<text class='tick-label' x='{x:.1f}' y='{axis_y + 16:.1f}' text-anchor='middle' "
            f"fill='#424242'>{format_seconds(t, step)}</text>"
        )
    out.append(
        f"<text x='{(left + right) / 2:.1f}' y='{axis_y + 33:.1f}' text-anchor='middle' "
        f"fill='#616161'>seconds since the {text(origin_label)}</text>"
    )

    # Event markers, drawn last so they stay visible over the sample marks.
    for index, event in enumerate(markers):
        label, colour = EVENT_MARKERS[event.kind]
        t = event.at - origin
        x = scale.x(t)
        level = index % _LABEL_LEVELS
        dash = " stroke-dasharray='5,3'" if event.kind != EventKind.FAULT_INJECTED else ""
        out.append(
            f"<line class='event' data-event={attr(label)} data-kind='{event.kind}' "
            f"x1='{x:.2f}' y1='{label_top + level * 14 + 3:.1f}' x2='{x:.2f}' "
            f"y2='{axis_y:.1f}' stroke='{colour}' stroke-width='1.5'{dash}>"
            f"<title>{text(f'{label} at +{t:.3f} s: {event.name}')}</title></line>"
        )
        anchor = "end" if x > right - 80 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(
            f"<text class='event-label' x='{x + dx:.1f}' y='{label_top + level * 14 + 11:.1f}' "
            f"text-anchor='{anchor}' fill='{colour}'>{text(f'{label} {t:.2f} s')}</text>"
        )

    out.append("</svg>")
    return "\n".join(out) + "\n"


_LEGEND_EVENTS = (
    ("fault", EVENT_MARKERS[EventKind.FAULT_INJECTED][1]),
    ("detected", EVENT_MARKERS[EventKind.DETECTED][1]),
    ("runbook start/end", EVENT_MARKERS[EventKind.RECOVERY_STARTED][1]),
    ("recovered", EVENT_MARKERS[EventKind.RECOVERED][1]),
)


def _legend(left: float, right: float, top: float) -> tuple[list[str], float]:
    """Legend items, wrapped onto as many lines as the width needs; returns the bottom y."""
    items: list[tuple[str, str, bool]] = [
        (str(status), colour, True) for status, colour in STATUS_COLOURS.items()
    ]
    items += [(label, colour, False) for label, colour in _LEGEND_EVENTS]
    parts: list[str] = []
    x, y = left, top + 10
    for label, colour, is_status in items:
        item_width = 22 + _CHAR_WIDTH * len(label)
        if x > left and x + item_width > right:
            x, y = left, y + 16
        if is_status:
            parts.append(
                f"<rect class='legend' x='{x:.1f}' y='{y - 9:.1f}' width='10' height='10' "
                f"fill='{colour}'/>"
            )
        else:
            parts.append(
                f"<line class='legend' x1='{x + 5:.1f}' y1='{y - 10:.1f}' x2='{x + 5:.1f}' "
                f"y2='{y + 1:.1f}' stroke='{colour}' stroke-width='1.5'/>"
            )
        parts.append(f"<text x='{x + 14:.1f}' y='{y:.1f}' fill='#424242'>{label}</text>")
        x += item_width + 8
    return parts, y + 6


def _shorten(name: str, column_px: float) -> str:
    fits = max(4, int(column_px / _CHAR_WIDTH + 1e-6) - 1)
    return name if len(name) <= fits else name[: fits - 1] + "\u2026"
