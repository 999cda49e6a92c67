"""Opening the target: the embedded stack (started or attached) or a Kubernetes context, with
every undo executor wired and what a dead run left pending replayed.
"""

from __future__ import annotations

from pathlib import Path

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.engine.lock import TargetLock
from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import UndoJournal
from drillbook.errors import ConfigError
from drillbook.probes.auth import TokenProvider
from drillbook.stack.local_stack import LocalStack, attach, start_stack
from drillbook.stack.run_dir import LOCK_NAME
from drillbook.target import REUSED_STACK_DIR, Target

JOURNAL_NAME = "undo-journal.jsonl"


def open_target(config: DrillbookConfig) -> Target:
    """Connect to (or start) the configured target and undo what a dead run left behind."""
    if config.platform == "kubernetes":
        from drillbook.assembly.kubernetes_target import open_kubernetes_target

        return open_kubernetes_target(config)
    if config.platform == "docker":
        from drillbook.assembly.docker_target import open_docker_target

        return open_docker_target(config)
    if config.target.base_url is not None:
        raise ConfigError(
            f"{config.source}: key 'target.base_url': found {config.target.base_url!r}, but "
            "platform 'local' drills the embedded stack, which provides its own address; "
            'remove target.base_url (or choose platform = "kubernetes" for a deployment)'
        )
    lock = _lock_of(config)
    try:
        stack = _local_stack(config)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    if lock is None:
        # A fresh temporary stack is this run's alone; its lock is there so that
        # `drillbook halt` finds the run.
        lock = TargetLock(
            stack.run_dir / LOCK_NAME,
            target=f"embedded stack in {stack.run_dir}",
            halt_request=halt_request_path(stack.run_dir / JOURNAL_NAME),
        ).acquire()
    resolved = stack.configure(config)
    journal = UndoJournal(stack.run_dir / JOURNAL_NAME)
    platform = stack.platform()
    platform.allow = config.allow
    target = Target(
        config=resolved,
        platform=platform,
        tokens=TokenProvider(resolved.target.auth, secret=stack.jwt_secret),
        journal=journal,
        stack=stack,
        lock=lock,
    )
    return finish_opening(target)


def _lock_of(config: DrillbookConfig) -> TargetLock | None:
    """The lock of a stack another run could use too (reused, or in a run directory the
    configuration names), taken before the stack is attached or started in it. A stack in a
    fresh temporary directory is this run's alone."""
    if not (config.stack.reuse or config.stack.run_dir):
        return None
    run_dir = Path(config.stack.run_dir) if config.stack.run_dir else REUSED_STACK_DIR.resolve()
    return TargetLock(
        run_dir / LOCK_NAME,
        target=f"embedded stack in {run_dir}",
        halt_request=halt_request_path(run_dir / JOURNAL_NAME),
    ).acquire()


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
    return start_stack(config)  # in a temporary directory of its own, removed at the end
