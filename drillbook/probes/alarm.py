"""External alarms as stop conditions: the team's own monitoring says the drill hurts too much.

"http": GET the URL; firing when every configured condition holds on its JSON body (e.g. an
Alertmanager-style endpoint answering {"state": "firing"}). "prometheus": the instant query
API (`/api/v1/query`); firing when the query returns any series, the way an alerting rule
fires (e.g. `ALERTS{alertname="HighErrorRate", alertstate="firing"}`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from drillbook.config.model import Alarm


def alarm_check(alarm: Alarm, *, timeout_seconds: float) -> Callable[[], str | None]:
    """A stop check for `alarm`; raises (and the stop watch records it) when unreachable."""
    client = httpx.Client(timeout=timeout_seconds)

    def check() -> str | None:
        if alarm.kind == "prometheus":
            response = client.get(
                alarm.url.rstrip("/") + "/api/v1/query", params={"query": alarm.query}
            )
            response.raise_for_status()
            result = response.json().get("data", {}).get("result", [])
            if not result:
                return None
            return f"alarm {alarm.name or alarm.url} firing: {len(result)} series for {alarm.query}"
        response = client.get(alarm.url)
        try:
            document: Any = response.json()
        except json.JSONDecodeError:
            return None
        if all(condition.evaluate(document) for condition in alarm.conditions):
            shown = ", ".join(c.source for c in alarm.conditions)
            return f"alarm {alarm.name or alarm.url} firing ({shown})"
        return None

    return check
