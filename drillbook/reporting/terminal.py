"""What the terminal shows: each drill's phases as they happen, and one summary row per drill.

Progress is a drill observer (it hears phases and waits as they happen); the summary reads
finished `DrillRecord`s only, so it shows exactly the figures the run's JSON file holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drillbook.config.durations import format_duration
from drillbook.core.record import DrillRecord
from drillbook.core.timeline import EventKind

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

WriteLine = Callable[[str], None]

_PHASE_DONE = {
    "baseline": "steady state confirmed",
    "inject": "fault injected",
    "recover": "runbook done",
    "verify": "checklist passed",
    "objectives": "objectives judged",
    "undo": "every fault undone",
    "observe": "observation window over",
}


class TerminalProgress:
    """Prints one line per phase of a drill and, while it waits, the time against the limit."""

    def __init__(
        self,
        write_line: WriteLine,
        *,
        tick_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write_line
        self._tick_seconds = tick_seconds
        self._clock = clock
        self._last_tick: float | None = None

    def _line(self, drill: Drill, text: str) -> None:
        elapsed = self._clock() - drill.started_at
        self._write(f"    [{elapsed:6.1f}s] {text}")

    def phase_started(self, drill: Drill, phase: str, title: str) -> None:
        self._last_tick = self._clock()
        if phase == "baseline":
            identity = drill.identity
            option = f", option {identity.option}" if identity.option else ""
            self._write(f"  drill: {identity.title} ({identity.scenario}{option}, {identity.tier})")
        self._line(drill, title)

    def phase_finished(self, drill: Drill, phase: str, error: BaseException | None) -> None:
        if error is not None:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self._line(drill, f"{phase} failed: {type(error).__name__}: {first[:200]}")
            return
        if phase == "detect":
            detected = next(
                (e for e in reversed(drill.timeline.events) if e.kind is EventKind.DETECTED), None
            )
            seconds = None if detected is None else detected.details.get("time_to_detect_seconds")
            text = "outage detected" + ("" if seconds is None else f" after {seconds:.2f} s")
            self._line(drill, text)
        elif phase == "recovered" and drill.measurement is not None:
            self._line(drill, f"recovered: {_rto_text(drill)}")
        elif phase in _PHASE_DONE:
            self._line(drill, _PHASE_DONE[phase])

    def waiting(self, drill: Drill, phase: str, elapsed_seconds: float, limit: float) -> None:
        now = self._clock()
        if self._last_tick is not None and now - self._last_tick < self._tick_seconds:
            return
        self._last_tick = now
        what = "the probes to see the outage" if phase == "detect" else "recovery"
        objective = ""
        if phase == "recovered":
            allowed = drill.config.objectives.rto_for(drill.identity.tier)
            objective = f", RTO objective {format_duration(allowed)}"
        self._line(
            drill,
            f"waiting for {what}: {elapsed_seconds:.0f} s since the fault{objective}, "
            f"gives up at {format_duration(limit)}",
        )

    def drill_finished(self, drill: Drill) -> None:
        """The undo phase already said the drill is over."""


def _rto_text(drill: Drill) -> str:
    measurement = drill.measurement
    assert measurement is not None
    rto = measurement.rto_seconds
    if rto is None:
        return "not recovered"
    allowed = drill.config.objectives.rto_for(drill.identity.tier)
    bar = measurement.rto_error_bar_seconds or 0.0
    return f"RTO {rto:.2f} s (-{bar:.2f} s) of {format_duration(allowed)} allowed"


# -- the summary ------------------------------------------------------------------------------
SUMMARY_HEADER = (
    "drill",
    "verdict",
    "RTO (error bar) / objective",
    "detect",
    "data loss / RPO",
    "load errors (fault / after recovery)",
)


def summary_rows(records: Sequence[DrillRecord]) -> list[tuple[str, ...]]:
    """One row per drill: the columns of `SUMMARY_HEADER`."""
    return [
        (
            _drill_name(r),
            _verdict(r),
            _rto_cell(r),
            "-" if r.detection_seconds is None else f"{r.detection_seconds:.2f} s",
            _rpo_cell(r),
            _load_cell(r),
        )
        for r in records
    ]


def format_summary(records: Sequence[DrillRecord]) -> list[str]:
    """The summary table as lines of text (columns padded to the widest cell)."""
    rows = [SUMMARY_HEADER, *summary_rows(records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in records:
        site = _site_line(r)
        if site:
            lines.append(f"{_drill_name(r)}: {site}")
        for finding in r.findings:
            lines.append(
                f"{_drill_name(r)}: Finding ({finding.kind}) at {finding.component}: "
                f"{finding.summary}"
            )
    failures = [r for r in records if r.failure and r.outcome in ("failed", "error", "xfailed")]
    for r in failures:
        lines.append(f"{_drill_name(r)}: {r.outcome}: {r.failure}")
    return lines


def _site_line(record: DrillRecord) -> str:
    """A site-loss drill's own figures: each service back at the new site, the full restoration
    against rto_full, and how far behind each copy was at the fault."""
    site = record.companions.get("site_recovery")
    if not isinstance(site, dict):
        return ""
    parts = []
    ready = site.get("services_ready_after_seconds") or {}
    if ready:
        parts.append("services back after " + ", ".join(f"{c} {s:.1f} s" for c, s in ready.items()))
    full = site.get("full_restoration_seconds")
    if full is not None:
        objective = site.get("rto_full_objective_seconds")
        limit = f" / {format_duration(objective)}" if isinstance(objective, int | float) else ""
        parts.append(f"full restoration {full:.1f} s{limit}")
    replication = site.get("replication_at_fault")
    if isinstance(replication, dict):
        copies = [
            f"{name} {state.get('sync_state')}, {state.get('unflushed_bytes')} B behind"
            for name, state in replication.items()
            if isinstance(state, dict)
        ]
        if copies:
            parts.append("at the fault: " + "; ".join(copies))
    return "; ".join(parts)


def _drill_name(record: DrillRecord) -> str:
    """Scenario / option, and the test's parameters (the secrets provider) when it has some."""
    name = record.scenario + (f" / {record.option}" if record.option else "")
    if record.nodeid.endswith("]") and "[" in record.nodeid:
        name += " [" + record.nodeid.rsplit("[", 1)[1]
    return name


def _verdict(record: DrillRecord) -> str:
    if record.outcome == "xfailed":
        # An expected failure is a known finding, not a pass: say what kind.
        kinds = sorted({b.kind.upper() for b in record.breaches})
        return "xfail (" + ", ".join(kinds) + " breach)" if kinds else "xfail"
    return record.outcome


def _rto_cell(record: DrillRecord) -> str:
    if record.rto is None:
        return "not measured"
    rto = record.rto
    breached = not rto.within_objective or any(b.kind == "rto" for b in record.breaches)
    mark = " BREACH" if breached else ""
    if not rto.outage_observed:
        return (
            f"no outage (±{rto.error_bar_seconds:.2f} s) / {format_duration(rto.objective_seconds)}"
        )
    return (
        f"{rto.seconds:.2f} s (-{rto.error_bar_seconds:.2f}) / "
        f"{format_duration(rto.objective_seconds)}{mark}"
    )


def _rpo_cell(record: DrillRecord) -> str:
    if record.rpo is None:
        return "not measured"
    rpo = record.rpo
    # Evidence lost within the RPO is still a breach of "zero evidence lost": the judge says so.
    mark = " BREACH" if any(b.kind == "rpo" for b in record.breaches) else ""
    return (
        f"{rpo.lost} of {rpo.acknowledged} lost, RPO {rpo.seconds:.1f} s / "
        f"{format_duration(rpo.objective_seconds)}{mark}"
    )


def _load_cell(record: DrillRecord) -> str:
    # What users saw during the fault, and after recovery (what "error rates normal" judges).
    load = record.load
    if load is None or not load.requests:
        return "no load"
    cells = []
    for name, label in (("fault", "fault"), ("recovered", "after")):
        phase = load.phase(name)
        if phase is not None and phase.error_rate is not None:
            cells.append(f"{label} {phase.error_rate:.0%}")
    return (" / ".join(cells) or f"{load.error_rate:.0%}") + f" of {load.requests}"
