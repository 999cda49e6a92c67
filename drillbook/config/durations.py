"""Durations as people write them in a DR plan ("15m", "1h30m", "250ms"), as seconds.

Configuration files state objectives and timeouts in the plan's own words; the model keeps plain
float seconds so that arithmetic on measurements never has to parse anything.
"""

from __future__ import annotations

import math
import re

from drillbook.config.credentials import hide_credentials
from drillbook.errors import ConfigError

__all__ = ["format_duration", "parse_duration"]

_UNIT_SECONDS: dict[str, float] = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# "ms" must be tried before "m" and "s", or "250ms" would read as 250 minutes and a stray "s".
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
LONGEST_SECONDS = 366 * 24 * 3600.0
"""No objective, timeout or interval in a DR plan is a year long: past it a value is a typo
(or parses to infinity, which would make an objective impossible to breach)."""
_TOO_LONG = "a duration of at most 8784h (a year)"
_EXPECTED = (
    "a duration such as '250ms', '2s', '15m', '1h' or '1h30m' (units h, m, s, ms, largest first), "
    "or a number of seconds"
)


def parse_duration(value: object, *, key: str, source: str) -> float:
    """Return `value` in seconds; raise ConfigError naming `source` and `key` if it is invalid.

    Numbers are seconds. Strings are one or more `<number><unit>` parts, units from largest to
    smallest without repeats, so that a typo like "1m1m" or "30s1m" is caught instead of summed.
    Negative, non-finite and boolean values are rejected (TOML `true` would otherwise be 1 second).
    """
    if isinstance(value, bool):
        raise ConfigError(_message(value, key=key, source=source, expected=_EXPECTED))
    if isinstance(value, int | float):
        if isinstance(value, int) and value > LONGEST_SECONDS:
            raise ConfigError(_message(value, key=key, source=source, expected=_TOO_LONG))
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(
                _message(value, key=key, source=source, expected="a finite duration of 0 or more")
            )
        return _bounded(seconds, value, key=key, source=source)
    if not isinstance(value, str):
        raise ConfigError(_message(value, key=key, source=source, expected=_EXPECTED))

    text = value.strip()
    if not text:
        raise ConfigError(_message(value, key=key, source=source, expected=_EXPECTED))
    if text.startswith("-"):
        raise ConfigError(
            _message(value, key=key, source=source, expected="a duration of 0 or more")
        )
    if _BARE_NUMBER.fullmatch(text):
        # Command-line and ini overrides arrive as text; "2" there means what 2 means in TOML.
        return _bounded(float(text), value, key=key, source=source)
    total = 0.0
    position = 0
    previous_rank = -1
    ranks = list(_UNIT_SECONDS)
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise ConfigError(_message(value, key=key, source=source, expected=_EXPECTED))
        number, unit = match.groups()
        rank = ranks.index(unit)
        if rank <= previous_rank:
            raise ConfigError(
                _message(
                    value,
                    key=key,
                    source=source,
                    expected=_EXPECTED,
                    hint=f"unit '{unit}' appears after a smaller or equal unit",
                )
            )
        previous_rank = rank
        total += float(number) * _UNIT_SECONDS[unit]
        position = match.end()
    return _bounded(total, value, key=key, source=source)


def _bounded(seconds: float, value: object, *, key: str, source: str) -> float:
    if not math.isfinite(seconds) or seconds > LONGEST_SECONDS:
        raise ConfigError(_message(value, key=key, source=source, expected=_TOO_LONG))
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds as `parse_duration` reads them: 900 -> "15m", 2.5 -> "2.5s", 0.25 -> "250ms".

    Rounded to the millisecond, which is finer than any probe interval drillbook measures with.
    """
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else ""
    millis = round(abs(seconds) * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{sign}{millis}ms"
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    parts: list[str] = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if millis:
        parts.append(f"{millis / 1000:g}s")
    return sign + "".join(parts)


def _message(
    value: object, *, key: str, source: str, expected: str, hint: str | None = None
) -> str:
    shown = hide_credentials(repr(value))
    if len(shown) > 120:  # a value of 100,000 characters is not worth printing back
        shown = shown[:117] + "..."
    text = f"{source}: key '{key}': found {shown}, expected {expected}"
    return f"{text}; {hint}" if hint else text
