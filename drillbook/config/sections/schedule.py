"""The `[schedule]` table: when each scenario's drill is due (the plan's calendar).

The plan drills monthly on the first Saturday and runs a quarterly full test. `drillbook
status` compares this calendar with the history of passing drills (drillbook.records.schedule)
and exits non-zero when a scenario is overdue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drillbook.config.schema import (
    Context,
    Kind,
    Rule,
    Text,
    build,
    choice,
    name,
    setting,
)

__all__ = ["CADENCES", "DEFAULT_SCENARIOS", "Cadence", "ScheduleSettings", "parse"]

Cadence = Literal["monthly", "quarterly"]
CADENCES: Final[tuple[Cadence, ...]] = ("monthly", "quarterly")

DEFAULT_SCENARIOS: Final[Mapping[str, Cadence]] = MappingProxyType(
    {
        "application-failure": "monthly",
        "database-failure": "monthly",
        "database-backup": "monthly",
        "cache-failure": "monthly",
        "vector-database-failure": "monthly",
        "secrets-management-failure": "monthly",
        "complete-infrastructure-failure": "quarterly",
    }
)
"""The plan's scenarios and their cadence: 1 to 5 monthly, 6 (the full DR test) quarterly."""


def _is_time_zone(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CadenceTable(Kind):
    """A table of scenario name = cadence."""

    def parse(self, context: Context, key: str, value: object) -> Mapping[str, Cadence]:
        if not isinstance(value, dict):
            context.fail(key, value, 'a table such as { application-failure = "monthly" }')
        parsed: dict[str, Cadence] = {}
        for scenario, cadence in value.items():
            item_key = f"{key}.{scenario}"
            name(context, item_key, scenario)
            parsed[scenario] = choice(context, item_key, cadence, CADENCES)
        return MappingProxyType(parsed)

    def describe(self) -> str:
        return "table: scenario = " + " or ".join(f'"{c}"' for c in CADENCES)


@dataclass(frozen=True)
class ScheduleSettings:
    """When each scenario's drill is due."""

    time_zone: str = field(
        default="UTC",
        metadata=setting(
            Text(rules=(Rule(_is_time_zone, "an IANA time zone such as 'Europe/Berlin'"),)),
            "The time zone the calendar's days are counted in (a Saturday ends at midnight there).",
        ),
    )
    scenarios: Mapping[str, Cadence] = field(
        default_factory=lambda: DEFAULT_SCENARIOS,
        metadata=setting(
            CadenceTable(),
            '"monthly": due on the first Saturday of every month; "quarterly": on the first '
            "Saturday of January, April, July and October. A scenario is overdue once its "
            "due day has ended without a passing drill in that month (quarter); one that never "
            "passed is overdue. The table replaces the default (the plan's scenarios).",
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> ScheduleSettings:
    return build(context, "schedule", table, ScheduleSettings)
