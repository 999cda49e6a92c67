"""The notification ladder with the clock moved by hand: who hears what, when; and the
`[notify]` configuration. (Real deliveries to real receivers: tests/integration/
test_records_notify.py.)"""

from __future__ import annotations

import time

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import NotifySettings
from drillbook.core.redaction import PLACEHOLDER, REDACTOR
from drillbook.errors import ConfigError
from drillbook.records.ladder import LadderState, Outgoing
from drillbook.records.notifier import Notifier
from tests.unit.test_records_store import make_record

PLAN_LADDER = {
    "notify.webhooks": {"oncall": {"url": "http://127.0.0.1:9/hook"}},
    "notify.smtp": {"host": "127.0.0.1", "port": 9},
    "notify.status_every": "15m",
    "notify.ladder": [
        {"after": "0s", "webhooks": ["oncall"], "email": ["oncall@example.com"]},
        {"after": "10m", "email": ["lead@example.com", "manager@example.com"]},
        {"after": "20m", "email": ["stakeholders@example.com"]},
    ],
}


def settings() -> NotifySettings:
    return load_config(None, overrides=PLAN_LADDER).notify


def who(messages: list[Outgoing]) -> list[str]:
    return [str(m.channel) for m in messages]


def test_the_plans_ladder_on_a_failing_run() -> None:
    state = LadderState(settings(), run_label="run-1")
    at_once = ["webhook oncall", "email oncall@example.com"]
    assert who(state.started("app: all replicas lost", 0.0)) == at_once
    assert state.recorded(make_record(), 10.0) == []  # green: nobody is paged
    failed = state.recorded(
        make_record(outcome="failed", rto=3.2, rto_objective=0.1, failure="RTO breach: 3.2 s"),
        20.0,
    )
    assert who(failed) == at_once
    assert "RTO 3.20 s" in failed[0].text and "BREACH of the objective 100ms" in failed[0].text
    assert state.tick(20.0 + 599) == []
    escalated = state.tick(20.0 + 600)
    assert who(escalated) == ["email lead@example.com", "email manager@example.com"]
    assert {m.event for m in escalated} == {"escalation"}
    assert "1 drill(s) failed so far" in escalated[0].text
    # Status every 15 minutes to every rung reached; the stakeholders after 20 minutes.
    status = state.tick(20.0 + 900)
    assert {m.event for m in status} == {"status"}
    assert set(who(status)) == {*at_once, "email lead@example.com", "email manager@example.com"}
    assert who(state.tick(20.0 + 1200)) == ["email stakeholders@example.com"]
    end = state.finished([make_record(), make_record(outcome="failed")], 20.0 + 1300)
    assert {m.event for m in end} == {"run-finished"} and len(end) == 5
    assert "1 failed, 1 passed" in end[0].text and "FAILED" in end[0].subject
    assert state.tick(20.0 + 5000) == []  # the run is over: no more updates


def test_a_green_run_tells_only_the_at_once_rung() -> None:
    state = LadderState(settings(), run_label="run-2")
    state.recorded(make_record(), 1.0)
    assert state.tick(10_000.0) == []
    end = state.finished([make_record()], 10_001.0)
    assert who(end) == ["webhook oncall", "email oncall@example.com"]
    assert "1 passed" in end[0].subject


def test_every_message_is_redacted() -> None:
    secret = "s3cr3t-in-a-failure-message"
    REDACTOR.add(secret)
    try:
        state = LadderState(settings(), run_label="run-3")
        failed = state.recorded(make_record(outcome="error", failure=f"login {secret}"), 0.0)
    finally:
        REDACTOR.clear()
    assert failed and all(secret not in m.text and PLACEHOLDER in m.text for m in failed)


def test_a_dead_receiver_never_blocks_and_is_reported() -> None:
    """Port 9 (discard) is closed on loopback: every delivery is refused at once."""
    notifier = Notifier(settings(), run_label="run-4")
    started = time.monotonic()
    notifier.drill_started("app")
    notifier.drill_recorded(make_record(outcome="failed"))
    queued = time.monotonic() - started
    failures = notifier.close(timeout=20)
    assert queued < 0.5, queued
    assert len(failures) == 4 and not notifier.deliveries
    assert {f.channel for f in failures} == {"webhook oncall", "email oncall@example.com"}
    assert all(f.reason for f in failures)


def test_notify_configuration_errors() -> None:
    assert not load_config(None).notify.enabled
    bad_hook = {**PLAN_LADDER, "notify.ladder": [{"webhooks": ["pager"]}]}
    with pytest.raises(ConfigError, match=r"a webhook declared in \[notify.webhooks\] \(oncall\)"):
        load_config(None, overrides=bad_hook)
    no_smtp = {
        "notify.ladder": [{"email": ["a@example.com"]}],
    }
    with pytest.raises(ConfigError, match=r"notify\.smtp\.host"):
        load_config(None, overrides=no_smtp)
    empty = {"notify.ladder": [{"after": "5m"}]}
    with pytest.raises(ConfigError, match="at least one webhook or email address"):
        load_config(None, overrides=empty)
    both = {"notify.webhooks": {"x": {"url": "http://127.0.0.1:9/", "url_env": "X_URL"}}}
    with pytest.raises(ConfigError, match="exactly one of url and url_env"):
        load_config(None, overrides=both)
