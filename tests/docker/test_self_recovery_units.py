"""Fast checks of the no-self-recovery judgement on what `docker inspect` says of a killed
container, beside tests/docker/test_restart_policy.py, which runs the monthly drill on the
reference project under both policies and reads the finding from the run file."""

from __future__ import annotations

from typing import Any

from drillbook.companions.self_recovery import stayed_down_until_runbook

FAULT = 1_796_556_000.0  # Unix time of the kill
RUNBOOK = FAULT + 4.0


def _inspect(policy: str, *, restarts: int, running: bool, started: str) -> dict[str, Any]:
    return {
        "HostConfig": {"RestartPolicy": {"Name": policy}},
        "RestartCount": restarts,
        "State": {"Running": running, "StartedAt": started},
    }


def _judge(attrs: dict[str, Any], restarts_at_start: int | None = 0) -> dict[str, Any] | None:
    return stayed_down_until_runbook(
        "eleanor-app-1",
        attrs,
        restarts_at_start=restarts_at_start,
        fault_wall=FAULT,
        runbook_wall=RUNBOOK,
        now=FAULT + 30.0,
    )


def test_policy_no_started_by_the_runbook_is_found_with_how_long_it_was_down() -> None:
    # 2026-12-06T11:20:05.5Z is FAULT + 5.5 s: after the runbook's first step.
    found = _judge(_inspect("no", restarts=0, running=True, started="2026-12-06T11:20:05.5Z"))
    assert found == {
        "container": "eleanor-app-1",
        "restart_policy": "no",
        "restart_count": 0,
        "down_seconds": 5.5,
        "runbook_started_after_seconds": 4.0,
        "back": "started by the runbook",
    }


def test_policy_no_never_back_is_found_down_until_the_end() -> None:
    found = _judge(_inspect("no", restarts=0, running=False, started="2026-12-06T10:00:00Z"))
    assert found is not None and found["back"] == "still down at the end of the drill"
    assert found["down_seconds"] == 30.0


def test_a_self_restarting_policy_is_not_a_finding() -> None:
    for policy in ("unless-stopped", "always", "on-failure"):
        attrs = _inspect(policy, restarts=1, running=True, started="2026-12-06T11:20:00.8Z")
        assert _judge(attrs) is None, policy


def test_a_restart_the_engine_counted_is_not_a_finding() -> None:
    # Policy changed to "no" since, but the engine restarted it during the drill.
    attrs = _inspect("no", restarts=3, running=True, started="2026-12-06T11:20:00.8Z")
    assert _judge(attrs, restarts_at_start=2) is None


def test_started_before_the_runbook_is_not_a_finding() -> None:
    attrs = _inspect("no", restarts=0, running=True, started="2026-12-06T11:20:02Z")
    assert _judge(attrs) is None
