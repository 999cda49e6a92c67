"""The plan's calendar: first Saturdays, periods, overdue and next due, with the clock moved."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from drillbook.config.loader import load_config
from drillbook.errors import ConfigError
from drillbook.records.commands import parse_now
from drillbook.records.schedule import due_day, period_start, scenario_status, schedule_status

UTC = ZoneInfo("UTC")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first", "saturday"),
    [
        (dt.date(2026, 3, 1), dt.date(2026, 3, 7)),  # a Sunday
        (dt.date(2026, 8, 1), dt.date(2026, 8, 1)),  # a Saturday itself
        (dt.date(2026, 2, 1), dt.date(2026, 2, 7)),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 3)),
    ],
)
def test_the_first_saturday(first: dt.date, saturday: dt.date) -> None:
    assert due_day(first) == saturday and saturday.weekday() == 5


def test_periods() -> None:
    assert period_start(dt.date(2026, 3, 31), "monthly") == dt.date(2026, 3, 1)
    assert period_start(dt.date(2026, 5, 20), "quarterly") == dt.date(2026, 4, 1)
    assert period_start(dt.date(2026, 12, 31), "quarterly") == dt.date(2026, 10, 1)


def test_red_once_the_first_saturday_passes_without_a_passing_drill_green_after_one() -> None:
    february = [at("2026-02-07T10:00")]
    # March 2026: the first Saturday is the 7th.
    on_saturday = scenario_status("app", "monthly", february, at("2026-03-07T23:59"), UTC)
    assert not on_saturday.overdue and on_saturday.next_due == dt.date(2026, 3, 7)
    sunday = scenario_status("app", "monthly", february, at("2026-03-08T00:00"), UTC)
    assert sunday.overdue and sunday.overdue_since == dt.date(2026, 3, 7)
    assert sunday.next_due == dt.date(2026, 3, 7)
    late = [*february, at("2026-03-09T08:00")]  # run on the Monday after
    after = scenario_status("app", "monthly", late, at("2026-03-09T09:00"), UTC)
    assert not after.overdue and after.next_due == dt.date(2026, 4, 4)
    assert after.last_passed == at("2026-03-09T08:00")


def test_a_drill_early_in_the_month_meets_its_first_saturday() -> None:
    status = scenario_status("app", "monthly", [at("2026-08-01T06:00")], at("2026-08-20"), UTC)
    assert not status.overdue and status.next_due == dt.date(2026, 9, 5)


def test_last_months_drill_does_not_meet_this_months_saturday() -> None:
    status = scenario_status("app", "monthly", [at("2026-02-28T12:00")], at("2026-03-10"), UTC)
    assert status.overdue and status.overdue_since == dt.date(2026, 3, 7)


def test_never_passed_is_overdue_even_before_any_due_day() -> None:
    status = scenario_status("app", "monthly", [], at("2026-03-02T00:00"), UTC)
    assert status.overdue and status.last_passed is None
    assert status.next_due == dt.date(2026, 3, 7)


def test_quarterly_is_due_on_the_first_saturday_of_the_quarter() -> None:
    passed = [at("2026-01-03T10:00")]
    may = scenario_status("full", "quarterly", passed, at("2026-03-30"), UTC)
    assert not may.overdue and may.next_due == dt.date(2026, 4, 4)
    april = scenario_status("full", "quarterly", passed, at("2026-04-05"), UTC)
    assert april.overdue and april.overdue_since == dt.date(2026, 4, 4)


def test_the_day_ends_at_midnight_in_the_schedules_time_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    february = [at("2026-02-07T10:00")]
    # 2026-03-07T16:00Z is already Sunday 01:00 in Tokyo: overdue there, not in UTC.
    now = at("2026-03-07T16:00")
    assert scenario_status("app", "monthly", february, now, tokyo).overdue
    assert not scenario_status("app", "monthly", february, now, UTC).overdue


def test_every_scheduled_scenario_in_order_and_the_configuration() -> None:
    config = load_config(None)
    scenarios = config.schedule.scenarios
    assert scenarios["complete-infrastructure-failure"] == "quarterly"
    assert scenarios["application-failure"] == "monthly"
    statuses = schedule_status(
        scenarios, {"application-failure": [at("2026-03-07T10:00")]}, at("2026-03-09"), UTC
    )
    assert [s.scenario for s in statuses] == list(scenarios)
    assert [s.scenario for s in statuses if not s.overdue] == ["application-failure"]
    mine = load_config(
        None,
        overrides={"schedule.scenarios": {"x": "quarterly"}, "schedule.time_zone": "Europe/Berlin"},
    )
    assert dict(mine.schedule.scenarios) == {"x": "quarterly"}
    with pytest.raises(ConfigError, match="one of 'monthly', 'quarterly'"):
        load_config(None, overrides={"schedule.scenarios": {"x": "weekly"}})
    with pytest.raises(ConfigError, match="IANA time zone"):
        load_config(None, overrides={"schedule.time_zone": "Mars/Olympus"})


def test_now_from_the_command_line() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_now("2026-03-08", berlin) == dt.datetime(2026, 3, 8, tzinfo=berlin)
    assert parse_now("2026-03-08T10:00+00:00", berlin) == at("2026-03-08T10:00")
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_now("next saturday", berlin)
