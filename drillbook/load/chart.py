"""The load of one drill as an SVG picture: latency and errors over time, the fault marked.

Two panels sharing the time axis (seconds since the fault): above, the latency of every
successful request (one dot each); below, requests and errors per half second. Vertical lines
mark the fault and the recovery; plain Python, same style and time axis (drillbook.core.chart_axis)
as drillbook.reporting.chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from drillbook.core.chart_axis import format_seconds, nice_step
from drillbook.core.phases import PhaseBounds
from drillbook.core.redaction import REDACTOR
from drillbook.load.stats import LoadSample, percentile

_FONT = "font-family='DejaVu Sans, Arial, Helvetica, sans-serif'"
OK_COLOUR = "#2e7d32"
ERROR_COLOUR = "#c62828"
REQUEST_COLOUR = "#90a4ae"
FAULT_COLOUR = "#c62828"
RECOVERED_COLOUR = "#2e7d32"
BUCKET_SECONDS = 0.5
EMPTY_MESSAGE = "no load samples recorded"


def render_load_svg(
    samples: Sequence[LoadSample],
    bounds: PhaseBounds,
    *,
    origin: float,
    title: str,
    width: int = 960,
) -> str:
    """The chart as an SVG document (no XML prolog); works with no samples at all."""
    left, right = 70.0, width - 16.0
    top_lat, lat_h = 50.0, 170.0
    top_err, err_h = top_lat + lat_h + 30.0, 90.0
    axis_y = top_err + err_h
    height = int(axis_y + 45)
    times = [s.sent_at - origin for s in samples] or [0.0]
    marks = [t - origin for t in (bounds.fault_at, bounds.recovered_at) if t is not None]
    t_min, t_max = min([*times, *marks, 0.0]), max([*times, *marks, 0.0])
    if t_max - t_min < 1.0:
        t_max = t_min + 1.0
    step = nice_step((t_max - t_min) / 8.0)
    t_min, t_max = math.floor(t_min / step) * step, math.ceil(t_max / step) * step

    def x(t: float) -> float:
        return left + (t - t_min) / (t_max - t_min) * (right - left)

    ok_latencies = [s.latency_seconds for s in samples if s.ok]
    # Scale to the 99th percentile (with room) so one outlier does not flatten the picture;
    # slower requests are drawn at the top edge.
    top = max(0.01, (percentile(ok_latencies, 0.99) or 0.01) * 1.3)
    lat_step = nice_step(top / 4)
    top = math.ceil(top / lat_step) * lat_step

    def y_lat(seconds: float) -> float:
        return top_lat + lat_h - min(seconds, top) / top * lat_h

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' {_FONT} font-size='11'>",
        f"<title>{escape(REDACTOR.redact(title))}</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#ffffff'/>",
        f"<text x='12' y='22' font-size='15' font-weight='bold' fill='#212121'>"
        f"{escape(REDACTOR.redact(title))}</text>",
        f"<text x='12' y='40' fill='#424242'>dots: latency of successful requests; bars: "
        f"requests (grey) and errors (red) per {BUCKET_SECONDS:g} s</text>",
    ]
    if not samples:
        out.append(
            f"<text class='empty' x='{(left + right) / 2:.1f}' y='{top_lat + 40:.1f}' "
            f"text-anchor='middle' fill='#757575'>{EMPTY_MESSAGE}</text>"
        )
    # Latency panel.
    for i in range(5):
        value = lat_step * i
        if value > top + 1e-9:
            break
        y = y_lat(value)
        out.append(
            f"<line x1='{left:.1f}' y1='{y:.1f}' x2='{right:.1f}' y2='{y:.1f}' stroke='#eeeeee'/>"
            f"<text x='{left - 6:.1f}' y='{y + 4:.1f}' text-anchor='end' fill='#424242'>"
            f"{value * 1000:.0f} ms</text>"
        )
    for s in samples:
        if s.ok:
            out.append(
                f"<circle class='latency' cx='{x(s.sent_at - origin):.1f}' "
                f"cy='{y_lat(s.latency_seconds):.1f}' r='1.6' fill='{OK_COLOUR}'/>"
            )
    # Requests and errors per bucket.
    buckets: dict[int, list[int]] = {}
    for s in samples:
        counts = buckets.setdefault(math.floor((s.sent_at - origin) / BUCKET_SECONDS), [0, 0])
        counts[0] += 1
        counts[1] += 1 if s.failed else 0
    peak = max((c[0] for c in buckets.values()), default=1)
    bar_w = max(1.0, x(BUCKET_SECONDS) - x(0.0) - 1.0)
    for index, (total, errors) in sorted(buckets.items()):
        bx = x(index * BUCKET_SECONDS)
        th = total / peak * err_h
        out.append(
            f"<rect class='requests' x='{bx:.1f}' y='{axis_y - th:.1f}' width='{bar_w:.1f}' "
            f"height='{th:.1f}' fill='{REQUEST_COLOUR}'/>"
        )
        if errors:
            eh = errors / peak * err_h
            out.append(
                f"<rect class='errors' x='{bx:.1f}' y='{axis_y - eh:.1f}' width='{bar_w:.1f}' "
                f"height='{eh:.1f}' fill='{ERROR_COLOUR}'/>"
            )
    out.append(
        f"<text x='{left - 6:.1f}' y='{top_err + 10:.1f}' text-anchor='end' fill='#424242'>"
        f"{peak}</text>"
    )
    # Axes and ticks.
    for y0 in (top_lat + lat_h, axis_y):
        out.append(
            f"<line class='axis' x1='{left:.1f}' y1='{y0:.1f}' x2='{right:.1f}' y2='{y0:.1f}' "
            "stroke='#424242'/>"
        )
    for i in range(round((t_max - t_min) / step) + 1):
        t = t_min + i * step
        out.append(
            f"<text class='tick-label' x='{x(t):.1f}' y='{axis_y + 16:.1f}' "
            f"text-anchor='middle' fill='#424242'>{format_seconds(t, step)}</text>"
        )
    out.append(
        f"<text x='{(left + right) / 2:.1f}' y='{axis_y + 34:.1f}' text-anchor='middle' "
        "fill='#616161'>seconds since the fault</text>"
    )
    # Fault and recovery markers, across both panels.
    # Labels on two rows: fault and recovery are often a fraction of a second apart.
    for row, (at, label, colour, dash) in enumerate(
        (
            (bounds.fault_at, "fault", FAULT_COLOUR, ""),
            (bounds.recovered_at, "recovered", RECOVERED_COLOUR, " stroke-dasharray='5,3'"),
        )
    ):
        if at is None:
            continue
        mx = x(at - origin)
        out.append(
            f"<line class='event' data-event='{label}' x1='{mx:.1f}' y1='{top_lat - 4:.1f}' "
            f"x2='{mx:.1f}' y2='{axis_y:.1f}' stroke='{colour}' stroke-width='1.5'{dash}/>"
            f"<text x='{mx + 3:.1f}' y='{top_lat + 6 + row * 13:.1f}' fill='{colour}'>{label} "
            f"{at - origin:.2f} s</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
