"""The plan's calendar, judged against the history: pure functions over an injected clock.

A monthly scenario is due on the first Saturday of every month, a quarterly one on the first
Saturday of January, April, July and October. A due day is met by a passing drill of the
scenario in the same month (quarter), before or after the Saturday; the scenario is overdue
once a due day has ended (midnight after it, in the schedule's time zone) without one. A
scenario that never passed is overdue. `now` is always an argument, so tests move the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from drillbook.config.model import Cadence

__all__ = [
    "ScenarioStatus",
    "due_day",
    "period_start",
    "scenario_status",
    "schedule_status",
]

_SATURDAY = 5
_MONTHS_PER_PERIOD: Mapping[Cadence, int] = {"monthly": 1, "quarterly": 3}


@dataclass(frozen=True)
class ScenarioStatus:
    """Where one scenario stands against its cadence at `now`."""

    scenario: str
    cadence: Cadence
    last_passed: dt.datetime | None
    next_due: dt.date
    """The due day still to be met: the current period's, or the next one's once met."""
    overdue: bool
    overdue_since: dt.date | None
    """The due day that ended without a passing drill (None when not overdue)."""


def period_start(day: dt.date, cadence: Cadence) -> dt.date:
    """The first day of the month (quarter) holding `day`."""
    months = _MONTHS_PER_PERIOD[cadence]
    month = (day.month - 1) // months * months + 1
    return dt.date(day.year, month, 1)


def _shift(start: dt.date, cadence: Cadence, periods: int) -> dt.date:
    index = start.year * 12 + start.month - 1 + periods * _MONTHS_PER_PERIOD[cadence]
    return dt.date(index // 12, index % 12 + 1, 1)


def due_day(start: dt.date) -> dt.date:
    """The first Saturday on or after `start` (a period's first day)."""
    return start + dt.timedelta(days=(_SATURDAY - start.weekday()) % 7)


def scenario_status(
    scenario: str,
    cadence: Cadence,
    passed_at: Iterable[dt.datetime],
    now: dt.datetime,
    zone: ZoneInfo,
) -> ScenarioStatus:
    """The status of `scenario` at `now` given the times its drills passed (aware datetimes)."""
    local_now = now.astimezone(zone)
    today = local_now.date()
    last = max(passed_at, default=None)
    last_day = None if last is None else last.astimezone(zone).date()
    current = period_start(today, cadence)
    # The latest due day that has ended: this period's once its Saturday is over, else the
    # previous period's.
    this_due = due_day(current)
    ended = today > this_due
    latest_ended_start = current if ended else _shift(current, cadence, -1)
    met = last_day is not None and last_day >= latest_ended_start
    met_current = last_day is not None and last_day >= current
    next_due = due_day(_shift(current, cadence, 1)) if met_current else this_due
    return ScenarioStatus(
        scenario=scenario,
        cadence=cadence,
        last_passed=last,
        next_due=next_due,
        overdue=not met,
        overdue_since=None if met else due_day(latest_ended_start),
    )


def schedule_status(
    scenarios: Mapping[str, Cadence],
    passed_at: Mapping[str, Iterable[dt.datetime]],
    now: dt.datetime,
    zone: ZoneInfo,
) -> list[ScenarioStatus]:
    """Every scheduled scenario's status, in the schedule's order."""
    return [
        scenario_status(name, cadence, passed_at.get(name, ()), now, zone)
        for name, cadence in scenarios.items()
    ]
