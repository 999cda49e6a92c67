"""The rollbacks' one job: the drill's journaled undo, now.

Each fault's undo was written to the target's undo journal before the fault (engine.undo);
a rollback unwinds it here, and the control unwinds whatever is left after the experiment.
A `chaos run` killed before either leaves the journal pending: the next run of drillbook,
`chaos run` or pytest, replays it when it opens the target, before it injects anything.
"""

from __future__ import annotations

from typing import Any

from drillbook.chaos.judgement import judge, was_judged
from drillbook.chaos.session import current
from drillbook.errors import FaultFailed


def undo_faults() -> list[dict[str, Any]]:
    """Undo every fault of the open drill (ending it: probing and companions stop, as at the
    end of a pytest drill); each undo and how it went. Raises when one could not be undone."""
    session = current()
    drill = session.drill
    if drill.fault is not None and session.failure is None and not was_judged(session):
        judge(session)  # the figures need the companions still running
    outcomes = drill.finish()
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise FaultFailed(
            "could not undo: "
            + "; ".join(f"{o.action.description}: {o.error}" for o in failed)
            + f" (still pending in {session.target.journal.path}; the next run retries it)"
        )
    return [{"undo": o.action.description, "ok": o.ok} for o in outcomes]
