"""Subscribers to a drill's progress (reporting is one): their failures never fail a drill.

The Protocols are generic in the drill they are handed (`DrillObserver[Drill]`), so that this
module knows no engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

DrillT = TypeVar("DrillT", contravariant=True)


class DrillObserver(Protocol[DrillT]):
    def phase_started(self, drill: DrillT, phase: str, title: str) -> None: ...

    def phase_finished(self, drill: DrillT, phase: str, error: BaseException | None) -> None: ...

    def figures(self, drill: DrillT, figures: Mapping[str, Any]) -> None: ...

    def drill_finished(self, drill: DrillT) -> None: ...


class WaitingObserver(DrillObserver[DrillT], Protocol[DrillT]):
    """An observer that also wants to hear, while the drill waits for detection or recovery,
    how long it has waited (called every poll: throttle on your side)."""

    def waiting(
        self, drill: DrillT, phase: str, elapsed_seconds: float, limit_seconds: float
    ) -> None: ...


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
