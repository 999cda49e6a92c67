"""Whether a service takes a rotated secret up without a restart, seen from outside.

After a scheduled rotation the service is asked, every probe interval, with two tokens: one
signed by the new secret and one by the old. The rotation is taken up once the new token is
accepted and the old one refused in `streak` polls in a row (one lucky answer from one replica
is not enough: every replica behind the front door must have moved). A service that reads its
secret once at start-up never gets there: it accepts the old token, and refuses the new, until
it is restarted.

Pure: the calls and the clock are handed in, so the rules are tested without a service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from drillbook.core.clock import Clock

REFUSED = frozenset({401, 403})
"""The answers that refuse a token (an error, or no answer, refuses nothing)."""
STREAK = 2
"""Polls in a row that must show the new secret accepted and the old refused."""


@dataclass(frozen=True)
class TakeUp:
    """What the polls showed about one rotation."""

    taken_up: bool
    seconds: float | None
    """From the rotation to the first poll of the run that showed it taken up; None if not."""
    polls: int
    window_seconds: float
    new_statuses: Mapping[str, int]
    """How often each HTTP status answered the token signed by the new secret ("0": none)."""
    old_statuses: Mapping[str, int]
    """The same for the token signed by the old secret."""
    last_new: int = 0
    """The status of the last poll's token signed by the new secret."""
    last_old: int = 0
    """The status of the last poll's token signed by the old secret."""

    def details(self) -> dict[str, Any]:
        """JSON values for the timeline, the finding's evidence and the report."""
        return {
            "taken_up": self.taken_up,
            "seconds_until_taken_up": None if self.seconds is None else round(self.seconds, 3),
            "polls": self.polls,
            "window_seconds": self.window_seconds,
            "statuses_new": dict(self.new_statuses),
            "statuses_old": dict(self.old_statuses),
            "last_statuses": {"new": self.last_new, "old": self.last_old},
        }


def watch_take_up(
    call: Callable[[str], int],
    *,
    new: str,
    old: str,
    accepted: Collection[int],
    since: float,
    window_seconds: float,
    interval_seconds: float,
    clock: Clock,
    streak: int = STREAK,
) -> TakeUp:
    """Poll `call(secret) -> HTTP status` every `interval_seconds` with the `new` and the `old`
    secret until the new is `accepted` and the old refused `streak` polls in a row, or until
    `window_seconds` after `since` (the rotation) have passed. A run that began within the
    window is allowed to complete: the seconds are those of its first poll."""
    if streak < 1:
        raise ValueError(f"streak must be >= 1, got {streak}")
    deadline = since + window_seconds
    new_statuses: Counter[str] = Counter()
    old_statuses: Counter[str] = Counter()
    polls = 0
    run = 0
    run_started = since
    new_status = old_status = 0

    def outcome(taken_up: bool) -> TakeUp:
        return TakeUp(
            taken_up=taken_up,
            seconds=max(0.0, run_started - since) if taken_up else None,
            polls=polls,
            window_seconds=window_seconds,
            new_statuses=dict(sorted(new_statuses.items())),
            old_statuses=dict(sorted(old_statuses.items())),
            last_new=new_status,
            last_old=old_status,
        )

    while True:
        sent = clock.monotonic()
        new_status, old_status = call(new), call(old)
        polls += 1
        new_statuses[str(new_status)] += 1
        old_statuses[str(old_status)] += 1
        if new_status in accepted and old_status in REFUSED:
            if run == 0:
                run_started = sent
            run += 1
            if run >= streak:
                return outcome(True)
        else:
            run = 0
        next_poll = sent + interval_seconds
        if run == 0 and next_poll > deadline:
            return outcome(False)
        clock.sleep(max(0.0, next_poll - clock.monotonic()))
