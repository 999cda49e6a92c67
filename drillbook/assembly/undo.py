"""What every opened target gets before it is drilled: the undo executors that are not
platform verbs, and the replay of the undos a dead run left pending."""

from __future__ import annotations

import logging

from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import replay_pending
from drillbook.errors import UndoReplayFailed
from drillbook.target import Target

log = logging.getLogger(__name__)


def finish_opening(target: Target) -> Target:
    """Wire the undo executors that are not platform verbs, then replay what a dead run left.

    Every platform gets the same two: a secret restored in its store, and a drillbook undo
    handler (e.g. a data directory put back). The replay comes last, once every executor a
    journaled undo may name is there.
    """
    from drillbook.core.undo_handlers import HANDLER_PLATFORM, handler_executor
    from drillbook.scenarios.secrets.stores import UNDO_PLATFORM, secrets_undo

    target.undo_executors[UNDO_PLATFORM] = secrets_undo(target)
    target.undo_executors[HANDLER_PLATFORM] = handler_executor(target.platform)
    try:
        target.replayed_undos = replay_pending(target.journal, target.apply_undo)
        for outcome in target.replayed_undos:
            log.warning(
                "replayed an undo left pending by an earlier run: %s (%s)",
                outcome.action.description,
                "ok" if outcome.ok else outcome.error,
            )
        failed = [o for o in target.replayed_undos if not o.ok]
        if failed:
            # Drilling a target that is still faulted would measure the old fault, and stack a
            # new one on it: stop here, with what is left to do.
            raise UndoReplayFailed(
                f"an earlier run left {len(failed)} fault(s) that could not be undone: "
                + "; ".join(f"{o.action.description}: {o.error}" for o in failed)
                + f". Nothing was injected. Repair that part of the target by hand, then run "
                f"again (the undo is retried first; journal: {target.journal.path})."
            )
        target.journal.compact()
        # A halt asked of an earlier run is not this run's to obey.
        halt_request_path(target.journal.path).unlink(missing_ok=True)
    except BaseException:
        target.close()
        raise
    return target
