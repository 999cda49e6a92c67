"""Companions: activities that run beside every drill, from before the fault to after verifying.

The prober is the built-in one. Others (the write ledger that measures data loss, the load that
measures error rates and latency per phase) implement `Companion` and are built for each drill by
the factories listed in `companion_factories()`; a factory returns None when its companion does
not apply to the target (e.g. no write path configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target


@dataclass(frozen=True)
class Attachment:
    """A report attachment a companion contributes (text; redacted by the reporter)."""

    name: str
    content: str
    mime: str = "text/plain"


class Companion(Protocol):
    name: str

    def start(self, drill: Drill) -> None:
        """Begin, before the baseline is observed (so the baseline includes this activity)."""
        ...

    def stop(self, drill: Drill) -> None:
        """End; called once when the drill finishes, whatever its outcome, before the undo."""
        ...

    def figures(self) -> Mapping[str, Any]:
        """Measured figures for the drill's report (JSON-serialisable)."""
        ...

    def attachments(self) -> list[Attachment]: ...


CompanionFactory = Callable[["Target", "DrillIdentity"], "Companion | None"]


def companion_factories() -> list[CompanionFactory]:
    """Every companion kind drillbook knows, in start order (imported lazily: optional deps)."""
    return []
