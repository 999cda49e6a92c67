"""The take-up of a rotated secret, by its rules: the new secret accepted and the old refused in
two polls in a row, timed from the rotation; a service that never moves runs out the window;
one lucky answer is not a take-up. The service is played by a function of the clock (the real
path, against the embedded stack's OpenBao and moto, is tests/integration/
test_secret_rotation_finding.py). Also `Drill.outage_observed`, which lets the rotation drill
tell a take-up that users never noticed from one they did."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drillbook.core.clock import FakeClock
from drillbook.scenarios.secrets.take_up import TakeUp, watch_take_up
from tests.unit.test_drill_engine import down_between, fault, make_drill

NEW, OLD = "new-secret", "old-secret"
ROTATED_AT = 1000.0
INTERVAL = 0.25


def _service(
    clock: FakeClock, takes_up_at: float | None, *, flaky_at: float | None = None
) -> Callable[[str], int]:
    """Accepts the old secret until `takes_up_at` (None: never), the new one from then on; at
    `flaky_at` one answer goes to a replica that has not moved yet."""

    def call(secret: str) -> int:
        now = clock.monotonic()
        moved = takes_up_at is not None and now >= takes_up_at
        if flaky_at is not None and abs(now - flaky_at) < 1e-9:
            moved = False
        if moved:
            return 200 if secret == NEW else 401
        return 200 if secret == OLD else 401

    return call


def _watch(clock: FakeClock, call: Callable[[str], int], window: float = 12.0) -> TakeUp:
    return watch_take_up(
        call,
        new=NEW,
        old=OLD,
        accepted=(200,),
        since=ROTATED_AT,
        window_seconds=window,
        interval_seconds=INTERVAL,
        clock=clock,
    )


def test_taken_up_is_timed_from_the_rotation_to_the_first_poll_of_the_run() -> None:
    clock = FakeClock(start=ROTATED_AT)
    result = _watch(clock, _service(clock, takes_up_at=ROTATED_AT + 1.1))
    assert result.taken_up
    # Polls at +0, +0.25, ... +1.0 see the old secret; +1.25 and +1.5 the new: taken up at +1.25.
    assert result.seconds == pytest.approx(1.25)
    assert result.polls == 7
    assert result.new_statuses == {"200": 2, "401": 5}
    assert result.old_statuses == {"200": 5, "401": 2}
    assert result.details()["seconds_until_taken_up"] == 1.25


def test_one_unmoved_replica_breaks_the_run() -> None:
    clock = FakeClock(start=ROTATED_AT)
    call = _service(clock, takes_up_at=ROTATED_AT + 0.4, flaky_at=ROTATED_AT + 0.75)
    result = _watch(clock, call)
    # +0.5 looked taken up, +0.75 hit an unmoved replica: the run starts again at +1.0.
    assert result.seconds == pytest.approx(1.0)


def test_a_service_that_never_moves_runs_out_the_window() -> None:
    clock = FakeClock(start=ROTATED_AT)
    result = _watch(clock, _service(clock, takes_up_at=None), window=5.0)
    assert not result.taken_up and result.seconds is None
    assert result.polls == 21  # +0 .. +5.0, every 0.25s
    assert clock.monotonic() == pytest.approx(ROTATED_AT + 5.0)
    assert (result.last_new, result.last_old) == (401, 200)
    assert result.details()["window_seconds"] == 5.0


def test_a_run_begun_within_the_window_may_complete_after_it() -> None:
    clock = FakeClock(start=ROTATED_AT)
    result = _watch(clock, _service(clock, takes_up_at=ROTATED_AT + 4.9), window=5.0)
    assert result.taken_up and result.seconds == pytest.approx(5.0)


def test_no_answer_refuses_nothing() -> None:
    clock = FakeClock(start=ROTATED_AT)
    result = _watch(clock, lambda secret: 0, window=1.0)
    assert not result.taken_up
    assert result.old_statuses == {"0": 5}


def test_the_drill_tells_whether_users_saw_an_outage(tmp_path: Path) -> None:
    drill, clock, _ = make_drill(tmp_path, down_between(3.0, 3.5))
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    assert not drill.outage_observed()
    clock.sleep(1.25)
    assert drill.outage_observed()
    drill.finish()
