"""`poll_until`, the one wait of drillbook, on a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from drillbook.core.clock import FakeClock
from drillbook.core.polling import poll_until


class Script:
    """Answers a scripted value per look, recording when (on the fake clock) it was asked."""

    def __init__(self, clock: FakeClock, answers: list[int]) -> None:
        self.clock = clock
        self.answers = answers
        self.asked_at: list[float] = []

    def __call__(self) -> int:
        self.asked_at.append(self.clock.monotonic())
        return self.answers[min(len(self.asked_at), len(self.answers)) - 1]


def test_returns_what_it_saw_once_done() -> None:
    clock = FakeClock(start=100.0)
    look = Script(clock, [0, 0, 3])
    seen = poll_until(look, lambda n: n >= 3, timeout=10.0, interval=0.5, clock=clock)
    assert seen == 3
    assert look.asked_at == [100.0, 100.5, 101.0]


def test_done_at_once_looks_once_and_never_sleeps() -> None:
    clock = FakeClock(start=5.0)
    look = Script(clock, [1])
    assert poll_until(look, bool, timeout=0.0, interval=1.0, clock=clock) == 1
    assert look.asked_at == [5.0] and clock.monotonic() == 5.0


def test_gives_up_with_the_callers_error_about_the_last_look() -> None:
    clock = FakeClock(start=0.0)
    look = Script(clock, [1, 2, 3, 4])
    with pytest.raises(TimeoutError, match="last saw 3"):
        poll_until(
            look,
            lambda n: n > 10,
            timeout=1.0,
            interval=0.5,
            give_up=lambda n: TimeoutError(f"last saw {n}"),
            clock=clock,
        )
    # Looked at 0, 0.5 and once more at the deadline (1.0), then gave up.
    assert look.asked_at == [0.0, 0.5, 1.0]


def test_without_give_up_returns_the_last_look_at_the_deadline() -> None:
    clock = FakeClock(start=0.0)
    look = Script(clock, [7])
    assert poll_until(look, lambda n: n == 0, timeout=0.25, interval=0.1, clock=clock) == 7
    assert clock.monotonic() == pytest.approx(0.3)


def test_the_timeout_counts_from_since() -> None:
    clock = FakeClock(start=10.0)
    look = Script(clock, [0])
    # A wait bounded from a moment already 9.5 s past: half a second is left.
    poll_until(look, bool, timeout=10.0, interval=0.25, since=0.5, clock=clock)
    assert look.asked_at == [10.0, 10.25, 10.5]


def test_a_deadline_already_past_still_looks_once() -> None:
    clock = FakeClock(start=50.0)
    look = Script(clock, [0, 1])
    with pytest.raises(RuntimeError):
        poll_until(
            look, bool, timeout=1.0, interval=1.0, since=0.0, give_up=RuntimeError, clock=clock
        )
    assert look.asked_at == [50.0]


def test_an_error_while_looking_ends_the_wait_at_once() -> None:
    clock = FakeClock(start=0.0)

    def look() -> int:
        raise ProcessLookupError("the server exited")

    with pytest.raises(ProcessLookupError, match="exited"):
        poll_until(look, bool, timeout=60.0, interval=1.0, clock=clock)
    assert clock.monotonic() == 0.0
