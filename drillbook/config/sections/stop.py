"""The `[stop]` table: conditions that abort a drill and undo its fault at once.

A drill is meant to hurt the target for a while, within the plan's objectives. A stop condition
says when it hurts more than that (AWS FIS stop conditions, Gremlin's halt): users keep seeing
errors beyond the window the fault was expected to last, an alarm of the team's own monitoring
fires, or someone asked for a halt (`drillbook halt`). Then the drill aborts, its fault is
undone at once (not at the end of the recovery step under way), and it is reported "aborted".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from drillbook.config.conditions import Condition
from drillbook.config.schema import (
    Choice,
    Context,
    Duration,
    Fraction,
    Name,
    TableArray,
    Text,
    Url,
    build,
    setting,
)
from drillbook.config.sections.probes import Conditions

__all__ = ["ALARM_KINDS", "Alarm", "StopSettings", "parse"]

AlarmKind = Literal["http", "prometheus"]
ALARM_KINDS: Final[tuple[AlarmKind, ...]] = ("http", "prometheus")


@dataclass(frozen=True)
class Alarm:
    """An external alarm polled while a drill runs; firing aborts the drill."""

    name: str = field(default="", metadata=setting(Name(), "A name for reports."))
    kind: AlarmKind = field(
        default="http",
        metadata=setting(
            Choice(ALARM_KINDS),
            '"http": GET `url`, firing when every condition holds on its JSON body; '
            '"prometheus": the instant query `query` at `url`, firing when it returns any series.',
        ),
    )
    url: str = field(
        default="",
        metadata=setting(
            Url(), "The alarm's URL (a Prometheus server's base URL for kind \"prometheus\")."
        ),
    )
    query: str = field(
        default="",
        metadata=setting(
            Text(),
            'PromQL of kind "prometheus", e.g. \'ALERTS{alertname="HighErrorRate",'
            'alertstate="firing"}\'.',
        ),
    )
    conditions: tuple[Condition, ...] = field(
        default=(),
        metadata=setting(
            Conditions(), 'Kind "http": firing when all hold, e.g. [\'state == "firing"\'].'
        ),
    )


@dataclass(frozen=True)
class StopSettings:
    """When a drill must stop hurting the target."""

    error_rate_max: float | None = field(
        default=None,
        metadata=setting(
            Fraction("a fraction from 0 to 1, e.g. 0.5"),
            "Abort when more than this share of the probes' samples in the last `error_window` "
            "failed, once `expected_outage` has passed since the fault; not set: no bound.",
        ),
    )
    error_window_seconds: float = field(
        default=30.0,
        metadata=setting(
            Duration(positive="a duration above 0"),
            "The sliding window the error rate is measured over.",
            key="error_window",
        ),
    )
    expected_outage_seconds: float = field(
        default=900.0,
        metadata=setting(
            Duration(),
            "How long after the fault users may see errors without the drill being stopped "
            "(the plan's critical RTO by default).",
            key="expected_outage",
        ),
    )
    alarms: tuple[Alarm, ...] = field(
        default=(),
        metadata=setting(TableArray(Alarm), "External alarms ([[stop.alarms]]).", key="alarms"),
    )


def parse(context: Context, table: dict[str, Any]) -> StopSettings:
    settings = build(context, "stop", table, StopSettings)
    for index, alarm in enumerate(settings.alarms):
        key = f"stop.alarms[{index}]"
        if not alarm.url:
            context.fail(f"{key}.url", alarm.url, "the alarm's URL")
        if alarm.kind == "prometheus" and not alarm.query:
            context.fail(f"{key}.query", alarm.query, 'a PromQL query, for kind "prometheus"')
        if alarm.kind == "http" and not alarm.conditions:
            context.fail(
                f"{key}.conditions",
                list(alarm.conditions),
                'at least one condition saying "firing", e.g. [\'state == "firing"\']',
            )
    return settings
