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


class ObserverSet:
    """Fans a notification out to every observer, logging (not raising) their errors."""

    def __init__(self, observers: Sequence[DrillObserver]) -> None:
        self._observers = list(observers)

    def add(self, observer: DrillObserver) -> None:
        self._observers.append(observer)

    def notify(self, method: str, *args: Any) -> None:
        for observer in self._observers:
            try:
                getattr(observer, method)(*args)
            except Exception:  # a broken report must not turn a drill's verdict
                log.exception("drill observer %r failed in %s", observer, method)
