"""The drillbook control: Chaos Toolkit's control interface around an experiment.

Declared once in an experiment:

    "controls": [{"name": "drillbook", "provider": {"type": "python",
        "module": "drillbook.chaos.control",
        "arguments": {"scenario": "application-failure", "component": "app",
                      "option": "all replicas lost, rollout restart"}}}]

Before the experiment it opens the target (started or attached, and what a dead run left
pending undone first: `open_target`), builds the drill as pytest does, and starts its prober,
write ledger and load from a healthy baseline. Before each of drillbook's activities it marks
the drill's phase (drillbook.chaos.phases). After the experiment it judges the objectives,
undoes every fault (the journaled undo), writes the drill record to the runs directory as a
pytest run does, and puts the figures into the Chaos Toolkit journal (drillbook.chaos.journal).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import InterruptExecution, InvalidActivity

from drillbook.assembly.drill import assemble_drill, validate_marker
from drillbook.assembly.target import open_target
from drillbook.chaos import session as sessions
from drillbook.chaos.activity import phase_of
from drillbook.chaos.journal import (
    EXTENSION_NAME,
    add_to_journal,
    deviations,
    journal_entry,
    outcome_of,
)
from drillbook.chaos.judgement import judge, was_judged
from drillbook.chaos.phases import before_activity
from drillbook.chaos.secrets.pointing import point_app_at
from drillbook.chaos.session import ChaosSession
from drillbook.chaos.settings import settings_from
from drillbook.chaos.steps import jsonable
from drillbook.config.loader import load_config
from drillbook.core.redaction import REDACTOR, redact_logging
from drillbook.engine.drill import DrillIdentity
from drillbook.engine.record import record_of
from drillbook.errors import DrillError, DrillFailed
from drillbook.reporting.run_file import run_document, write_run_file
from drillbook.reporting.terminal import TerminalProgress

log = logging.getLogger("chaostoolkit")

CADENCE = "chaos toolkit"
_REQUIRED = ("scenario", "component")
_start_failure: list[str] = []
"""Why the drill could not be opened, for the journal (a control's errors are only logged)."""


def validate_control(control: Mapping[str, Any]) -> None:
    """`chaos validate`: the control names the plan's scenario and the component whose tier
    the drill is judged by."""
    arguments = (control.get("provider") or {}).get("arguments") or {}
    missing = [key for key in _REQUIRED if not arguments.get(key)]
    if missing:
        raise InvalidActivity(
            f"control '{control.get('name')}': drillbook needs the arguments "
            f'{", ".join(missing)} (e.g. scenario="application-failure", component="app")'
        )


def before_experiment_control(
    context: Mapping[str, Any],
    configuration: Mapping[str, Any] | None = None,
    *,
    scenario: str = "",
    component: str = "",
    option: str = "",
    secrets_provider: str = "",
    **_: Any,
) -> None:
    """Open the target and start the drill from a healthy steady state; a drill that cannot
    start interrupts the experiment (nothing was injected)."""
    _start_failure.clear()
    redact_logging()
    try:
        _open(context, configuration, scenario, component, option, secrets_provider)
    except Exception as exc:  # chaoslib only logs a control's errors: say it, and stop
        message = f"{type(exc).__name__}: {exc}"
        _start_failure.append(REDACTOR.redact(message))
        _close_quietly()
        raise InterruptExecution(f"drillbook: the drill could not start: {message}") from None


def _open(
    context: Mapping[str, Any],
    configuration: Mapping[str, Any] | None,
    scenario: str,
    component: str,
    option: str,
    secrets_provider: str,
) -> None:
    settings = settings_from(configuration)
    config = load_config(settings.config_path, overrides=settings.overrides)
    title = str(context.get("title") or scenario)
    marker = {"scenario": scenario, "component": component}
    tier = validate_marker(f"chaos: {title}", marker, config)  # before the target is touched
    target = open_target(config)
    identity = DrillIdentity(
        scenario=scenario,
        tier=tier,
        option=option,
        cadence=CADENCE,
        title=title,
        component=component,
    )
    try:
        drill = assemble_drill(target, identity, report_to_allure=False)
    except BaseException:
        target.close()
        raise
    drill.observers.add(TerminalProgress(log.info))
    session = ChaosSession(target=target, drill=drill, settings=settings)
    sessions.open_session(session)
    if secrets_provider:
        point_app_at(session, secrets_provider)
        # As in the pytest secrets drills: authentication is what these faults break, and only
        # the critical endpoints, called with the clients' token, show it.
        drill.count_critical_endpoints_in_rto()
    drill.begin()


def before_method_control(context: Mapping[str, Any], **_: Any) -> None:
    if sessions.is_open():
        sessions.current().in_method = True


def after_method_control(context: Mapping[str, Any], **_: Any) -> None:
    if sessions.is_open():
        sessions.current().in_method = False


def before_activity_control(context: Mapping[str, Any], **_: Any) -> None:
    """Mark the drill's phase for the activity about to run; a drill that cannot get there
    (the outage never seen, no recovery in time) stops the experiment."""
    if not sessions.is_open():
        return
    session = sessions.current()
    try:
        before_activity(session, phase_of(context))
    except DrillError as exc:
        session.failure = session.failure or exc
        raise InterruptExecution(f"drillbook: {type(exc).__name__}: {exc}") from None


def after_activity_control(
    context: Mapping[str, Any], state: Mapping[str, Any] | None = None, **_: Any
) -> None:
    """A drillbook activity of the method that failed stops the experiment: a fault not
    injected, a runbook step or a check that failed, as in a pytest drill."""
    if not sessions.is_open() or not state or state.get("status") != "failed":
        return
    session = sessions.current()
    if not session.in_method or phase_of(context) is None:
        return
    error = session.last_error
    text = "".join(state.get("exception") or []).strip() or "failed"
    session.failure = session.failure or error or DrillFailed(text)
    raise InterruptExecution(
        f"drillbook: activity '{context.get('name')}' failed: {text}; the experiment stops "
        "here and every fault is undone"
    )


def after_experiment_control(
    context: Mapping[str, Any], state: dict[str, Any] | None = None, **_: Any
) -> None:
    """Judge, undo every fault, record the drill, and put the figures into the journal."""
    journal = state if state is not None else {}
    if not sessions.is_open():
        if _start_failure:
            add_to_journal(journal, {"name": EXTENSION_NAME, "failure": _start_failure[0]})
        return
    session = sessions.current()
    try:
        _finish(session, journal)
    except Exception:
        log.exception("drillbook: the drill could not be recorded")
        raise
    finally:
        _close_quietly()


def _finish(session: ChaosSession, journal: dict[str, Any]) -> None:
    drill = session.drill
    if drill.fault is not None and session.failure is None and not was_judged(session):
        # The figures of every drill that ran, even one whose experiment judged nothing.
        judge(session)
    undone = drill.finish()
    _put_back(session)
    outcome = outcome_of(journal, session.failure)
    error = session.failure
    if outcome == "failed" and error is None:
        error = _deviation_error(session, journal)
    record = record_of(drill, nodeid=f"chaos: {drill.identity.title}", outcome=outcome, error=error)
    run_file = None
    try:
        document = run_document(
            [record],
            started_wall=session.started_wall,
            finished_wall=time.time(),
            platform=drill.config.platform,
        )
        run_file = write_run_file(session.settings.runs_dir, document)
    except OSError as exc:
        log.error("drillbook: could not write the drill record in %s: %s", session.settings, exc)
    entry = journal_entry(
        record,
        journal=journal,
        run_file=run_file,
        replayed=session.target.replayed_undos,
        undone=undone,
    )
    # The record holds URLs and messages a configuration could fill: redacted, as run files are.
    add_to_journal(journal, jsonable(entry))
    log.info(
        "drillbook: %s; record: %s", record.verdict or record.failure or record.outcome, run_file
    )


def _deviation_error(session: ChaosSession, journal: Mapping[str, Any]) -> BaseException:
    """The objective breach (or failed check) that made the steady state deviate."""
    judged = judge(session) if was_judged(session) else None
    if judged is not None:
        return judged
    failed = ", ".join(str(d.get("probe")) for d in deviations(journal)) or "a probe"
    return DrillFailed(f"the steady state deviated after the method: {failed}")


def cleanup_control() -> None:
    """The safety net: a drill still open (its experiment ended in a way no control saw)."""
    _close_quietly()


def _put_back(session: ChaosSession) -> None:
    while session.cleanups:
        try:
            session.cleanups.pop()()
        except Exception as exc:  # one set-up not put back must not keep the others
            log.error("drillbook: could not put a set-up back: %s", exc)


def _close_quietly() -> None:
    session = sessions.close_session()
    if session is None:
        return
    try:
        session.drill.finish()  # no-op when finished; else every fault undone now
        _put_back(session)
    finally:
        session.target.close()
