"""The drill a `chaos run` is driving: opened by the control around the experiment, used by
every activity of the extension (activities are plain functions: they find it here).

One experiment runs at a time in a `chaos run` process, so one session is open at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drillbook.chaos.settings import ChaosSettings
from drillbook.config.model import Component
from drillbook.core.platform import Platform
from drillbook.engine.drill import Drill
from drillbook.errors import InvalidDrill
from drillbook.target import Target


@dataclass
class ChaosSession:
    """The target, the drill and what the experiment's activities hand each other."""

    target: Target
    drill: Drill
    settings: ChaosSettings
    started_wall: float = field(default_factory=time.time)
    memo: dict[str, Any] = field(default_factory=dict)
    """What one activity leaves for a later one (the cache master a fault killed, say)."""
    detect_within: float | None = None
    """How long the probes may take to see the fault; None: [probing] detect_timeout. A fault
    that shows only later (a revoked secret, after the service's cache TTL) sets it."""
    detected: bool = False
    in_method: bool = False
    """While the experiment's method runs: a failed check there stops the experiment (as a
    failed `drill.verify`); in the steady-state hypothesis it is a tolerance not met."""
    last_error: BaseException | None = None
    """The drill error the last failed activity raised (chaoslib keeps only its text)."""
    failure: BaseException | None = None
    """The first drill error that stopped the experiment, for the record's verdict."""
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    """Set-ups to put back after the drill (the application pointed at a secrets provider),
    last first; each is journaled by whoever pushed it, so a killed run's are replayed."""

    @property
    def platform(self) -> Platform:
        return self.target.platform

    def component(self, role_or_name: str) -> Component:
        return self.target.component(role_or_name)


_current: ChaosSession | None = None


def current() -> ChaosSession:
    """The open session; an activity run without the drillbook control fails with the fix."""
    if _current is None:
        raise InvalidDrill(
            "no drill is open: drillbook's activities need its control in the experiment, "
            '"controls": [{"name": "drillbook", "provider": {"type": "python", "module": '
            '"drillbook.chaos.control", "arguments": {"scenario": ..., "component": ...}}}]'
        )
    return _current


def is_open() -> bool:
    return _current is not None


def open_session(session: ChaosSession) -> None:
    global _current
    if _current is not None:
        raise InvalidDrill("a drill is already open in this process: one experiment at a time")
    _current = session


def close_session() -> ChaosSession | None:
    """Forget the open session (the caller closes its target); the session, if any."""
    global _current
    session, _current = _current, None
    return session
