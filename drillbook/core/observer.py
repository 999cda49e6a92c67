"""Subscribers to a drill's progress (reporting is one): their failures never fail a drill.

The Protocols are generic in the drill they are handed (`DrillObserver[Drill]`), so that this
module knows no engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

DrillT = TypeVar("DrillT", contravariant=True)


class DrillObserver(Protocol[DrillT]):
    """Hears a drill's phases as they happen and its end.

    Two notifications are optional, sent only to observers that define them:
    `waiting(drill, phase, elapsed_seconds, limit_seconds)` while the drill waits for detection
    or recovery (every poll: throttle on your side), and `recorded(record)` with the drill's
    `DrillRecord` once it is finished (the figures every report shows).
    """

    def phase_started(self, drill: DrillT, phase: str, title: str) -> None: ...

    def phase_finished(self, drill: DrillT, phase: str, error: BaseException | None) -> None: ...

    def drill_finished(self, drill: DrillT) -> None: ...


class ObserverSet:
    """Fans a notification out to every observer, logging (not raising) their errors."""

    def __init__(self, observers: Sequence[DrillObserver[Any]]) -> None:
        self._observers = list(observers)

    def add(self, observer: DrillObserver[Any]) -> None:
        self._observers.append(observer)

    def notify(self, method: str, *args: Any) -> None:
        for observer in self._observers:
            # Optional notifications (e.g. "waiting") go only to observers that define them.
            handler = getattr(observer, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception:  # a broken report must not turn a drill's verdict
                log.exception("drill observer %r failed in %s", observer, method)
