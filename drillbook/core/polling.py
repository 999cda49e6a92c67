"""Waiting for something to become true: look, judge, sleep, until a deadline.

drillbook waits everywhere (a Sentinel failover, a rollout, a scratch server accepting
connections, a process gone); `poll_until` is that loop once, so that every wait looks at
least once, looks once more at or after its deadline before giving up, and gives up with the
caller's own message about what it saw last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from drillbook.core.clock import Clock, SystemClock

T = TypeVar("T")

_SYSTEM_CLOCK = SystemClock()


def poll_until(
    look: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float,
    since: float | None = None,
    give_up: Callable[[T], BaseException] | None = None,
    clock: Clock | None = None,
) -> T:
    """Call `look` every `interval` seconds until `done(what it saw)`; return what it saw.

    The wait lasts `timeout` seconds from `since` (a time of `clock.monotonic()`, e.g. the
    fault's), or from now. `look` is called at least once, and once more at or after the
    deadline; if that is still not done, `give_up(what it saw last)` is raised, or, without
    `give_up`, what it saw last is returned for the caller to judge. An exception from `look`
    or `done` ends the wait at once (a process that died while it was awaited, say).
    """
    clock = clock or _SYSTEM_CLOCK
    deadline = (clock.monotonic() if since is None else since) + timeout
    while True:
        seen = look()
        if done(seen):
            return seen
        if clock.monotonic() >= deadline:
            if give_up is None:
                return seen
            raise give_up(seen)
        clock.sleep(interval)
