"""`drillbook history` and `drillbook status`: the history store read back, and the schedule."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from drillbook.config.loader import load_config
from drillbook.errors import ConfigError
from drillbook.records.open import open_history
from drillbook.records.schedule import schedule_status
from drillbook.records.views import (
    history_json,
    history_table,
    passed_times,
    status_json,
    status_table,
)

__all__ = ["parse_now", "run_records_command"]


def parse_now(text: str | None, zone: ZoneInfo) -> dt.datetime:
    """`--now` as an aware time (a date or a time without zone is in the schedule's zone)."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now: found {text!r}, expected an ISO 8601 time such as 2026-03-08T09:00+01:00 "
            "or a date such as 2026-03-08"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def run_records_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_history(config.history, base=Path.cwd())
    try:
        drills = store.drills()
    finally:
        store.close()
    if args.command == "history":
        print(history_json(drills) if args.json else "\n".join(history_table(drills)))
        return 0
    zone = ZoneInfo(config.schedule.time_zone)
    now = parse_now(args.now, zone)
    statuses = schedule_status(config.schedule.scenarios, passed_times(drills), now, zone)
    print(status_json(statuses, now) if args.json else "\n".join(status_table(statuses, now)))
    return 1 if any(s.overdue for s in statuses) else 0
