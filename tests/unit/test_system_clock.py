"""The system clock's wall time is a label on its monotonic timeline."""

from __future__ import annotations

import time

from drillbook.core.clock import SystemClock


def test_wall_and_monotonic_intervals_agree_whatever_the_wall_clock_does() -> None:
    # Two clocks of one process (the drill's and the ledger's) and two instants apart in time:
    # the wall interval is the monotonic one, to a Unix time float's precision (about 0.2 µs).
    drill_clock, ledger_clock = SystemClock(), SystemClock()
    first = (drill_clock.monotonic(), drill_clock.wall())
    time.sleep(0.02)
    second = (ledger_clock.monotonic(), ledger_clock.wall())
    assert abs((second[1] - first[1]) - (second[0] - first[0])) < 1e-5


def test_wall_time_is_the_hosts_time_of_day() -> None:
    # Readable timestamps: within a second of the host's own clock (the offset is taken at import).
    assert abs(SystemClock().wall() - time.time()) < 1.0
