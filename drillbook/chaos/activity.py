"""Which drill phase an activity of the extension belongs to, for the control to mark.

Every action, probe and rollback of drillbook.chaos is tagged with `@phase(...)`: the control
reads the tag of the activity about to run (its provider's module and function) and moves the
drill along as the pytest drills do it by hand: before the first runbook step it waits until
the probes see the outage, before the first verification or judgement until recovery.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast, get_args

from drillbook.chaos import session as sessions
from drillbook.errors import DrillError

Phase = Literal["prepare", "inject", "recover", "observe", "verify", "judge", "undo"]
PHASES: tuple[Phase, ...] = get_args(Phase)

_ATTRIBUTE = "drillbook_phase"
_F = TypeVar("_F", bound=Callable[..., Any])


def phase(kind: Phase) -> Callable[[_F], _F]:
    """Tag an activity function with the drill phase it belongs to.

    The wrapper keeps the function's name, docstring and signature (`functools.wraps`), which
    is what chaoslib's discovery and argument checks read; it keeps the drill error an activity
    raised, which chaoslib turns into the text of an ActivityFailed, for the drill record."""
    if kind not in PHASES:
        raise ValueError(f"unknown drill phase {kind!r}; one of {', '.join(PHASES)}")

    def tag(func: _F) -> _F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except DrillError as exc:
                if sessions.is_open():
                    sessions.current().last_error = exc
                raise

        setattr(run, _ATTRIBUTE, kind)
        return cast(_F, run)

    return tag


def phase_of(activity: Mapping[str, Any]) -> Phase | None:
    """The phase of a Chaos Toolkit activity, or None when it is not one of drillbook's."""
    provider = activity.get("provider") or {}
    module = provider.get("module")
    func = provider.get("func")
    if provider.get("type") != "python" or not isinstance(module, str):
        return None
    if not module.startswith("drillbook.chaos.") or not isinstance(func, str):
        return None
    try:
        found = getattr(importlib.import_module(module), func, None)
    except ImportError:
        return None
    kind = getattr(found, _ATTRIBUTE, None)
    return kind if kind in PHASES else None
