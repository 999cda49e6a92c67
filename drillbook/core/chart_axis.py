"""The time axis of drillbook's SVG charts (the drill timeline, the load chart): round ticks."""

from __future__ import annotations

import math


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 x 10^k not below `raw`, so tick labels are round numbers."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * magnitude >= raw * (1 - 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


def format_seconds(t: float, step: float) -> str:
    """`t` as a tick label, with as many decimals as `step` needs."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    value = round(t, decimals)
    if value == 0:
        value = 0.0  # no "-0"
    return f"{value:.{decimals}f}"
