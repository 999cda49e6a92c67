"""Companions: activities that run beside every drill, from before the fault to after verifying.

The prober is the built-in one. Others (the write ledger that measures data loss, the load that
measures error rates and latency per phase) implement `Companion` and are built for each drill by
the factories the composition root lists (drillbook.assembly.companions); a factory returns None
when its companion does not apply to the target (e.g. no write path configured).

The Protocols are generic in the drill they are handed (`Companion[Drill]` in the engine), so
that this module knows no engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

DrillT = TypeVar("DrillT", contravariant=True)


@dataclass(frozen=True)
class Attachment:
    """A report attachment a companion contributes (text; redacted by the reporter)."""

    name: str
    content: str
    mime: str = "text/plain"


class Companion(Protocol[DrillT]):
    """An activity beside the drill. Two methods are optional: `prepare(drill)`, called before
    any companion starts, to launch something slow to start up (Locust) so that its start-up
    overlaps the others'; and `seconds_at_work()`, how long it has been fully at work when its
    start returns (the load waits for its own baseline of traffic), which the drill's baseline
    counts instead of waiting that long again."""

    name: str

    def start(self, drill: DrillT) -> None:
        """Begin, before the baseline is observed (so the baseline includes this activity)."""
        ...

    def stop(self, drill: DrillT) -> None:
        """End; called once when the drill finishes, whatever its outcome, before the undo."""
        ...

    def figures(self) -> Mapping[str, Any]:
        """Measured figures for the drill's report (JSON-serialisable)."""
        ...

    def attachments(self) -> list[Attachment]: ...


@runtime_checkable
class ObjectiveJudge(Protocol[DrillT]):
    """A companion that also judges objectives of the plan (the write ledger: data loss)."""

    def objective_breaches(self, drill: DrillT) -> list[str]:
        """Measure now; one message per objective breached (data loss: each says "RPO
        breach"), none when all are met. Called by `Drill.assert_objectives`."""
        ...


def objective_breaches(companions: Sequence[Companion[DrillT]], drill: DrillT) -> list[str]:
    """Every breach the judging companions find, in companion order."""
    return [
        breach
        for companion in companions
        if isinstance(companion, ObjectiveJudge)
        for breach in companion.objective_breaches(drill)
    ]
