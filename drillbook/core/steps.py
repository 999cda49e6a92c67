"""Faults, recovery steps and verification checks: the three kinds of things a drill does.

They are small data objects built by verb_noun factory functions (the scenario packages'
faults, runbook and checks modules, drillbook.scenarios.<resource>) so that a drill reads like
the plan's runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drillbook.core.undo import UndoAction


@dataclass(frozen=True)
class Fault:
    """A failure to inject, with the undo that reverts it (journaled before injection)."""

    name: str
    description: str
    inject: Callable[[], Mapping[str, Any] | None]
    """Does the damage; may return details for the timeline (e.g. the PIDs killed)."""
    undo: UndoAction
    stops: str | None = None
    """The component this fault takes down (its processes killed or scaled away), so that a
    watcher can tell a dependency's outage from damage to data or configuration; None when the
    fault leaves every process running."""


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


Check = Callable[[Any], CheckResult]
"""A verification item: a function of the drill (drillbook.engine.drill.Drill) -> CheckResult."""

_CheckFn = TypeVar("_CheckFn", bound=Callable[..., CheckResult])


def checklist_item(title: str) -> Callable[[_CheckFn], _CheckFn]:
    """Names a check after the plan's checklist line, for step titles and reports."""

    def mark(fn: _CheckFn) -> _CheckFn:
        fn.check_name = title  # type: ignore[attr-defined]
        return fn

    return mark


_Factory = TypeVar("_Factory", bound=Callable[..., Fault])


def undone_by(description: str) -> Callable[[_Factory], _Factory]:
    """Says, on a fault factory, what its journaled undo does, for a dry run, which plans a
    drill without building its faults (building one may read the target)."""

    def mark(factory: _Factory) -> _Factory:
        factory.undo_description = description  # type: ignore[attr-defined]
        return factory

    return mark


def check_name(check: Check) -> str:
    """The plan's wording of a check (its @checklist_item title), else its function name."""
    return str(getattr(check, "check_name", getattr(check, "__name__", "check")))
