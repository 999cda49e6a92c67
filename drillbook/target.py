"""The target under drill, built from the configuration: platform, address, probes, undo journal.

For platform `local` without a base URL this starts (or reuses) the embedded stack; that is the
only place a platform is chosen, so drills never know which one they run on.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.config.model import Component, DrillbookConfig
from drillbook.engine.undo import UndoAction, UndoJournal, UndoOutcome, replay_pending
from drillbook.errors import ConfigError
from drillbook.platforms.base import Platform
from drillbook.probes.auth import TokenProvider
from drillbook.stack.local_stack import LocalStack, attach, start_stack

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
        components = self.config.target.components
        if role_or_name in components:
            return components[role_or_name]
        for component in components.values():
            if component.role == role_or_name:
                return component
        known = ", ".join(f"{c.name} ({c.role})" for c in components.values()) or "none"
        raise ConfigError(
            f"{self.config.source}: key 'target.components': no component named or with role "
            f"'{role_or_name}' (found: {known}); add a [target.components.{role_or_name}] table"
        )

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


def open_target(config: DrillbookConfig) -> Target:
    """Connect to (or start) the configured target and undo what a dead run left behind."""
    if config.platform == "kubernetes":
        from drillbook.platforms.kubernetes_target import open_kubernetes_target

        return open_kubernetes_target(config)
    if config.target.base_url is not None:
        raise ConfigError(
            f"{config.source}: key 'target.base_url': found {config.target.base_url!r}, but "
            "platform 'local' drills the embedded stack, which provides its own address; "
            'remove target.base_url (or choose platform = "kubernetes" for a deployment)'
        )
    stack = _local_stack(config)
    resolved = stack.configure(config)
    journal = UndoJournal(stack.run_dir / "undo-journal.jsonl")
    platform = stack.platform()
    target = Target(
        config=resolved,
        platform=platform,
        tokens=TokenProvider(resolved.target.auth, secret=stack.jwt_secret),
        journal=journal,
        stack=stack,
    )
    return finish_opening(target)


def finish_opening(target: Target) -> Target:
    """Wire the undo executors that are not platform verbs, then replay what a dead run left.

    Every platform gets the same two: a secret restored in its store, and a drillbook undo
    handler (e.g. a data directory put back). The replay comes last, once every executor a
    journaled undo may name is there.
    """
    from drillbook.engine.undo_handlers import HANDLER_PLATFORM, handler_executor
    from drillbook.secrets.stores import UNDO_PLATFORM, secrets_undo

    target.undo_executors[UNDO_PLATFORM] = secrets_undo(target)
    target.undo_executors[HANDLER_PLATFORM] = handler_executor(target.platform)
    target.replayed_undos = replay_pending(target.journal, target.apply_undo)
    for outcome in target.replayed_undos:
        log.warning(
            "replayed an undo left pending by an earlier run: %s (%s)",
            outcome.action.description,
            "ok" if outcome.ok else outcome.error,
        )
    return target


def _local_stack(config: DrillbookConfig) -> LocalStack:
    if config.stack.reuse:
        run_dir = Path(config.stack.run_dir) if config.stack.run_dir else REUSED_STACK_DIR.resolve()
        existing = attach(run_dir)
        if existing is not None:
            return existing
        run_dir.mkdir(parents=True, exist_ok=True)
        return start_stack(config, run_dir=run_dir)
    if config.stack.run_dir:
        return start_stack(config, run_dir=Path(config.stack.run_dir))
    return start_stack(config, run_dir=Path(tempfile.mkdtemp(prefix="drillbook-stack-")))
