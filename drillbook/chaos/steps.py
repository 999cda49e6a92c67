"""What every activity does with the drill: inject a fault, run runbook steps, run a check;
each returns what the journal shows of it (JSON, secrets redacted)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drillbook.chaos.session import ChaosSession
from drillbook.core.redaction import REDACTOR
from drillbook.core.steps import Check, Fault, RecoveryStep, check_name
from drillbook.core.timeline import EventKind
from drillbook.errors import VerificationFailed


def inject(session: ChaosSession, fault: Fault) -> dict[str, Any]:
    """Journal the fault's undo, then inject it (`Drill.inject`); what it did."""
    session.drill.inject(fault)
    details = next(
        (
            e.details
            for e in reversed(session.drill.timeline.events)
            if e.kind is EventKind.FAULT_INJECTED
        ),
        {},
    )
    return jsonable({"fault": fault.name, "description": fault.description, "details": details})


def recover(session: ChaosSession, *steps: RecoveryStep) -> dict[str, Any]:
    """Run runbook steps (`Drill.recover`); each step's command and what it reported."""
    drill = session.drill
    before = len(drill.timeline.events)
    drill.recover(*steps)
    finished = [
        {"step": e.name, **dict(e.details)}
        for e in drill.timeline.events[before:]
        if e.kind is EventKind.RECOVERY_FINISHED
    ]
    return jsonable({"commands": [s.command for s in steps], "steps": finished})


def check(session: ChaosSession, *checks: Check) -> bool:
    """Run checks of the plan's checklist: before any fault as the steady state (no phase),
    after it as `Drill.verify` (recorded). False when one fails; in the method, a failure
    raises instead, so the experiment stops as a pytest drill does."""
    drill = session.drill
    if not checks:
        return True  # every one recorded as not run on this target (engine.reach)
    if drill.fault is None:
        return all(c(drill).passed for c in checks)
    try:
        drill.verify(*checks)
    except VerificationFailed:
        if session.in_method:
            raise
        return False
    return True


def names(*checks: Check) -> list[str]:
    return [check_name(c) for c in checks]


def jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` as plain JSON types, with every registered secret redacted."""
    loaded: dict[str, Any] = json.loads(REDACTOR.redact(json.dumps(value, default=str)))
    return loaded
