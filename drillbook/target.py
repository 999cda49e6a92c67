"""The target under drill: configuration, platform, address, tokens, undo journal.

Opened by drillbook.assembly.target.open_target (the embedded stack, or a Kubernetes context):
that is the only place a platform is chosen, so drills never know which one they run on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.config.model import Component, DrillbookConfig
from drillbook.core.platform import Platform
from drillbook.core.undo import UndoAction, UndoOutcome
from drillbook.engine.lock import TargetLock
from drillbook.engine.undo import UndoJournal
from drillbook.probes.auth import TokenProvider
from drillbook.stack.local_stack import LocalStack

log = logging.getLogger(__name__)

REUSED_STACK_DIR = Path(".drillbook") / "stack"


@dataclass
class Target:
    config: DrillbookConfig
    """The configuration with the target's base URL resolved."""
    platform: Platform
    tokens: TokenProvider
    journal: UndoJournal
    stack: LocalStack | None = None
    lock: TargetLock | None = None
    """This run's hold on the target (one run per target), released at close."""
    replayed_undos: list[UndoOutcome] = field(default_factory=list)
    """Undos a dead earlier run left pending, replayed before this session drills anything."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    """What else to release at close, last first (a platform's API connection, a probe view)."""
    undo_executors: dict[str, Callable[[UndoAction], None]] = field(default_factory=dict)
    """Executors of journaled undos by `UndoAction.platform`, beyond the platform's own (e.g.
    "secrets": restore a deleted secret in Vault or AWS, which no platform verb can do)."""

    def apply_undo(self, action: UndoAction) -> None:
        """Execute a journaled undo with whoever owns its verbs: an executor or the platform."""
        executor = self.undo_executors.get(action.platform)
        if executor is None:
            self.platform.apply_undo(action)
        else:
            executor(action)

    @property
    def base_url(self) -> str:
        assert self.config.target.base_url is not None
        return self.config.target.base_url

    def component(self, role_or_name: str) -> Component:
        return self.config.component(role_or_name)

    def close(self) -> None:
        while self.closers:
            try:
                self.closers.pop()()
            except Exception as exc:  # releasing one thing must not keep the rest open
                log.warning("could not release part of the target: %s", exc)
        if self.stack is not None and self.stack.owned and not self.config.stack.reuse:
            leftovers = self.stack.stop(remove_run_dir=self.config.stack.run_dir is None)
            if leftovers:
                log.warning("had to SIGKILL stack processes %s at teardown", leftovers)
        if self.lock is not None:
            self.lock.release()
