"""What the Chaos Toolkit journal gets from drillbook: the drill's measured figures, which
tolerance failed and by how much, and the drill record pytest runs write.

The entry goes into the journal's experiment `extensions` (`{"name": "drillbook", ...}`), the
place Chaos Toolkit leaves to extensions; `chaos report` and other tools carry it along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drillbook.core.record import DrillRecord, Outcome
from drillbook.core.undo import UndoOutcome

EXTENSION_NAME = "drillbook"


def outcome_of(journal: Mapping[str, Any], failure: BaseException | None) -> Outcome:
    """The drill's verdict from how the experiment ended: deviated is a drill that missed the
    plan ("failed", as a red pytest drill); stopped by an error of the drill, "error"."""
    if journal.get("deviated"):
        return "failed"
    if failure is not None or journal.get("status") not in ("completed", None):
        return "error"
    return "passed"


def deviations(journal: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each steady-state probe after the method whose tolerance failed: its name, and the
    figures it returned (for the RTO and RPO probes: measured, objective, exceeded by)."""
    after = (journal.get("steady_states") or {}).get("after") or {}
    found = []
    for run in after.get("probes") or []:
        if run.get("tolerance_met", True):
            continue
        activity = run.get("activity") or {}
        output = run.get("output")
        entry: dict[str, Any] = {
            "probe": activity.get("name"),
            "status": run.get("status"),
            "output": output,
        }
        if isinstance(output, Mapping) and "exceeded_by_seconds" in output:
            entry["exceeded_by_seconds"] = output["exceeded_by_seconds"]
        if run.get("exception"):
            entry["error"] = "".join(run["exception"]).strip()
        found.append(entry)
    return found


def figures_of(record: DrillRecord) -> dict[str, Any]:
    """The measured figures, flat: RTO with its error bar, detection, writes lost, RPO, load
    per phase, breaches and findings."""
    rto = record.rto
    rpo = record.rpo
    load = record.load
    return {
        "rto_seconds": None if rto is None else rto.seconds,
        "rto_error_bar_seconds": None if rto is None else rto.error_bar_seconds,
        "rto_answer_seconds": None if rto is None else rto.answer_seconds,
        "rto_objective_seconds": None if rto is None else rto.objective_seconds,
        "rto_within_objective": None if rto is None else rto.within_objective,
        "detection_seconds": record.detection_seconds,
        "writes_acknowledged": None if rpo is None else rpo.acknowledged,
        "writes_lost": None if rpo is None else rpo.lost,
        "rpo_seconds": None if rpo is None else rpo.seconds,
        "rpo_objective_seconds": None if rpo is None else rpo.objective_seconds,
        "rpo_within_objective": None if rpo is None else rpo.within_objective,
        "load": None
        if load is None
        else {
            "requests": load.requests,
            "errors": load.errors,
            "phases": {p.name: {"requests": p.requests, "errors": p.errors} for p in load.phases},
        },
        "breaches": [b.message for b in record.breaches],
        "findings": [f"{f.kind} at {f.component}: {f.summary}" for f in record.findings],
    }


def journal_entry(
    record: DrillRecord,
    *,
    journal: Mapping[str, Any],
    run_file: Path | None,
    replayed: Sequence[UndoOutcome],
    undone: Sequence[UndoOutcome],
) -> dict[str, Any]:
    """The extension's entry for the journal."""
    return {
        "name": EXTENSION_NAME,
        "outcome": record.outcome,
        "failure": record.failure,
        "figures": figures_of(record),
        "deviations": deviations(journal),
        "replayed_undos": [_undo(o) for o in replayed],
        "undone": [_undo(o) for o in undone],
        "run_file": None if run_file is None else str(run_file),
        "record": record.to_json(),
    }


def add_to_journal(journal: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """Put `entry` into the journal's experiment extensions (replacing an earlier one)."""
    experiment = journal.get("experiment")
    if not isinstance(experiment, dict):
        experiment = {}
        journal["experiment"] = experiment
    others = [e for e in experiment.get("extensions") or [] if e.get("name") != EXTENSION_NAME]
    # A new list: the journal's experiment is a shallow copy sharing the experiment's list.
    experiment["extensions"] = [*others, dict(entry)]


def _undo(outcome: UndoOutcome) -> dict[str, Any]:
    return {"undo": outcome.action.description, "ok": outcome.ok, "error": outcome.error}
