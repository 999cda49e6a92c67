"""The shape of a watcher that only reads what the drill recorded (its timeline, the other
companions' figures): nothing to start or stop, figures set when it judges, no attachments.
The findings' watchers that look back over a drill build on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.core.companions import Attachment

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


class TimelineWatch:
    """A passive companion: `findings` (in the subclass) reads the drill and sets `_figures`."""

    name = "timeline_watch"

    def __init__(self) -> None:
        self._figures: dict[str, Any] = {}

    def start(self, drill: Drill) -> None:
        """Nothing to start: the background prober samples every probe."""

    def stop(self, drill: Drill) -> None:
        """Nothing to stop."""

    def figures(self) -> Mapping[str, Any]:
        return dict(self._figures)

    def attachments(self) -> list[Attachment]:
        return []
