"""Subscribers to a drill's progress (reporting is one): their failures never fail a drill."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

log = logging.getLogger(__name__)


class DrillObserver(Protocol):
    def phase_started(self, drill: Drill, phase: str, title: str) -> None: ...

    def phase_finished(self, drill: Drill, phase: str, error: BaseException | None) -> None: ...

    def figures(self, drill: Drill, figures: Mapping[str, Any]) -> None: ...

    def drill_finished(self, drill: Drill) -> None: ...


class WaitingObserver(DrillObserver, Protocol):
    """An observer that also wants to hear, while the drill waits for detection or recovery,
    how long it has waited (called every poll: throttle on your side)."""

    def waiting(
        self, drill: Drill, phase: str, elapsed_seconds: float, limit_seconds: float
    ) -> None: ...


class ObserverSet:
    """Fans a notification out to every observer, logging (not raising) their errors."""

    def __init__(self, observers: Sequence[DrillObserver]) -> None:
        self._observers = list(observers)

    def add(self, observer: DrillObserver) -> None:
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
