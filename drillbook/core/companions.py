"""Companions: activities that run beside every drill, from before the fault to after verifying.

The prober is the built-in one. Others (the write ledger that measures data loss, the load that
measures error rates and latency per phase) implement `Companion` and are built for each drill by
the factories listed in `companion_factories()`; a factory returns None when its companion does
not apply to the target (e.g. no write path configured).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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


@runtime_checkable
class ObjectiveJudge(Protocol):
    """A companion that also judges objectives of the plan (the write ledger: data loss)."""

    def objective_breaches(self, drill: Drill) -> list[str]:
        """Measure now; one message per objective breached (data loss: each says "RPO
        breach"), none when all are met. Called by `Drill.assert_objectives`."""
        ...


def objective_breaches(companions: Sequence[Companion], drill: Drill) -> list[str]:
    """Every breach the judging companions find, in companion order."""
    return [
        breach
        for companion in companions
        if isinstance(companion, ObjectiveJudge)
        for breach in companion.objective_breaches(drill)
    ]


CompanionFactory = Callable[["Target", "DrillIdentity"], "Companion | None"]


def companion_factories() -> list[CompanionFactory]:
    """Every companion kind drillbook knows, in start order (imported lazily: optional deps)."""
    from drillbook.backup.companion import backup_companion
    from drillbook.engine.precedent_ledger import precedent_ledger
    from drillbook.ledger.configuration import configuration_companion
    from drillbook.ledger.writer import ledger_companion
    from drillbook.load.companion import load_companion
    from drillbook.platforms.pod_recovery import pod_recovery_companion
    from drillbook.probes.cache_watch import cache_watch_companion

    # The load last: its start waits for a baseline of traffic, which then covers the others.
    return [
        pod_recovery_companion,
        cache_watch_companion,
        precedent_ledger,
        configuration_companion,
        backup_companion,
        ledger_companion,
        load_companion,
    ]
