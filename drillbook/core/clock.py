"""Clocks, injectable so that the measurement arithmetic can be tested without sleeping.

Monotonic time is what every measurement uses (it never jumps); wall time is kept beside it
only so that reports can show readable timestamps. The system clock's wall time is a label on
the monotonic timeline (one offset per process), so that an interval computed from two wall
times is the interval measured: the host's clock service can step or slew the wall clock
mid-drill (seen on a CI virtual machine: 10 ms within 2.3 s), and two instants of one drill
must not disagree with each other because of it.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the drill engine needs from time."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


# Taken once, at import: every SystemClock of this process shares it.
_WALL_MINUS_MONOTONIC = time.time() - time.monotonic()


class SystemClock:
    """The real clock. `time.monotonic` is CLOCK_MONOTONIC on Linux, shared by all processes,
    so timestamps taken by the target's own processes are comparable with ours."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.monotonic() + _WALL_MINUS_MONOTONIC

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; `sleep` advances it instantly."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
