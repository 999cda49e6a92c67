"""Faults, recovery steps and verification checks: the three kinds of things a drill does.

They are small data objects built by verb_noun factory functions (drillbook.faults.*,
drillbook.runbook.*, drillbook.engine.checks) so that a drill reads like the plan's runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drillbook.engine.undo import UndoAction

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


@dataclass(frozen=True)
class Fault:
    """A failure to inject, with the undo that reverts it (journaled before injection)."""

    name: str
    description: str
    inject: Callable[[], Mapping[str, Any] | None]
    """Does the damage; may return details for the timeline (e.g. the PIDs killed)."""
    undo: UndoAction


@dataclass(frozen=True)
class RecoveryStep:
    """One step of the plan's runbook, e.g. `kubectl rollout restart deployment/eleanor-v8`."""

    name: str
    command: str
    """The plan's command this step performs, shown in reports."""
    run: Callable[[], Mapping[str, Any] | None]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one verification item of the plan's checklist."""

    name: str
    passed: bool
    detail: str
    figures: Mapping[str, Any] = field(default_factory=dict)


Check = Callable[["Drill"], CheckResult]
