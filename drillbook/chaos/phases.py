"""The drill's phases marked from the experiment's activities, as a pytest drill marks them
by its calls: a fault injected, then (before the first runbook step) the outage detected, then
(before the first verification or judgement) the service recovered."""

from __future__ import annotations

from drillbook.chaos.activity import Phase
from drillbook.chaos.session import ChaosSession


def before_activity(session: ChaosSession, kind: Phase | None) -> None:
    """Move the drill to where an activity of `kind` belongs; a drill error (the outage never
    seen, no recovery in time) propagates for the control to stop the experiment with."""
    if kind is None or session.drill.fault is None:
        return  # not drillbook's, or the steady state before any fault: nothing to mark
    if kind == "recover":
        _detected(session)
    elif kind in ("verify", "judge"):
        _recovered(session)


def _detected(session: ChaosSession) -> None:
    if not session.detected:
        session.drill.wait_until_detected(timeout=session.detect_within)
        session.detected = True


def _recovered(session: ChaosSession) -> None:
    if session.drill.measurement is not None:
        return  # recovered already, or observed to absorb the fault (observe_no_outage)
    _detected(session)
    session.drill.wait_until_recovered()
