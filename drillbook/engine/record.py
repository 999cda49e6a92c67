"""The drill's record, built once from a finished drill: what every report reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.core.record import (
    Breach,
    CheckRecord,
    DrillRecord,
    FindingRecord,
    LoadFigure,
    LoadPhase,
    Outcome,
    RpoFigure,
    RtoFigure,
    StopRecord,
    breach_kind,
)
from drillbook.core.timeline import EventKind

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


def record_of(
    drill: Drill,
    *,
    nodeid: str,
    outcome: Outcome,
    error: BaseException | None = None,
) -> DrillRecord:
    """The immutable record of `drill` with the verdict its test runner gave it."""
    figures = drill.figures()
    events = drill.timeline.events
    started = next((e for e in events if e.kind is EventKind.DRILL_STARTED), None)
    finished = next((e for e in reversed(events) if e.kind is EventKind.DRILL_FINISHED), None)
    end = finished.at if finished is not None else drill.clock.monotonic()
    failure = None
    if error is not None:
        text = str(error).strip()
        failure = text.splitlines()[0] if text else type(error).__name__
    measurement = drill.measurement
    rto = None
    if measurement is not None and measurement.rto_seconds is not None:
        rto = RtoFigure(
            seconds=measurement.rto_seconds,
            error_bar_seconds=measurement.rto_error_bar_seconds or 0.0,
            objective_seconds=drill.config.objectives.rto_for(drill.identity.tier),
            outage_observed=measurement.outage_observed,
            answer_seconds=measurement.recovery_answer_seconds,
        )
    return DrillRecord(
        nodeid=nodeid,
        title=drill.identity.title,
        scenario=drill.identity.scenario,
        option=drill.identity.option,
        tier=drill.identity.tier,
        cadence=drill.identity.cadence,
        outcome=outcome,
        failure=failure,
        failure_kind=None if error is None else type(error).__name__,
        started_wall=started.wall if started is not None else drill.clock.wall(),
        wall_seconds=round(end - drill.started_at, 4),
        rto=rto,
        detection_seconds=None if measurement is None else measurement.time_to_detect_seconds,
        rpo=_rpo(figures.get("ledger"), drill.config.objectives.rpo_seconds),
        load=_load(figures.get("load")),
        breaches=tuple(Breach(breach_kind(b), b) for b in drill.breaches),
        findings=tuple(
            FindingRecord(f.kind, f.component, f.summary, dict(f.evidence)) for f in drill.findings
        ),
        checks=tuple(CheckRecord(r.name, r.passed, r.detail) for r in drill.check_results),
        checks_not_run=tuple(drill.checks_not_run.items()),
        phases=tuple(drill.phase_durations().items()),
        verification_window_seconds=drill.config.verification.window_seconds,
        probe_interval_seconds=drill.probing.interval_seconds,
        healthy_streak=drill.probing.healthy_streak,
        outage_seconds=None if measurement is None else measurement.outage_seconds,
        flaps=0 if measurement is None else measurement.flaps,
        relapses=0 if measurement is None else measurement.relapses,
        fault=None if drill.fault is None else drill.fault.description,
        verdict=drill.objective_verdict,
        companions={c.name: figures.get(c.name) for c in drill.companions},
        stop=None if drill.stopped is None else StopRecord(**drill.stopped),
    )


def _rpo(ledger: Mapping[str, Any] | None, objective: float) -> RpoFigure | None:
    # The ledger's read-back figures exist once it has judged (after recovery); before that
    # nothing is known about data loss and the record says so by having no RPO.
    if not ledger or "rpo_seconds" not in ledger:
        return None
    return RpoFigure(
        acknowledged=int(ledger.get("acknowledged") or 0),
        lost=int(ledger.get("lost") or 0),
        seconds=float(ledger["rpo_seconds"]),
        objective_seconds=objective,
        reference=str(ledger.get("rpo_reference") or ""),
    )


def _load(load: Mapping[str, Any] | None) -> LoadFigure | None:
    if not load:
        return None
    phases = load.get("phases") or {}
    by_phase = tuple(
        LoadPhase(name, int(p.get("requests") or 0), int(p.get("errors") or 0))
        for name, p in phases.items()
    )
    return LoadFigure(
        requests=sum(p.requests for p in by_phase),
        errors=sum(p.errors for p in by_phase),
        phases=by_phase,
    )
