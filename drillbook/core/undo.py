"""What an undo is: data that a process which did not inject the fault can replay.

Every fault carries an `UndoAction` (a platform verb and JSON arguments, never a closure); the
engine journals it before injecting (drillbook.engine.undo), and an executor keyed by
`UndoAction.platform` runs it (the platform itself, or e.g. the secrets stores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UndoAction:
    """How to revert one fault, replayable by a process that did not inject it."""

    description: str
    """For humans: what the undo does, e.g. 'start the stopped replicas of app'."""
    platform: str
    """The platform that executes it ("local", "kubernetes")."""
    verb: str
    """A method of the platform listed in its UNDO_VERBS."""
    args: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable keyword arguments of the verb."""


@dataclass
class UndoOutcome:
    action: UndoAction
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


UndoExecutor = Callable[[UndoAction], None]
