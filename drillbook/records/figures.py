"""A drill record's figures in words, the same in notifications and in the drill report."""

from __future__ import annotations

from drillbook.config.durations import format_duration
from drillbook.core.record import DrillRecord

__all__ = ["RED_OUTCOMES", "drill_name", "figures_line", "rpo_text", "rto_text"]

RED_OUTCOMES = frozenset({"failed", "error", "aborted", "xpassed"})
"""Outcomes that are a failure to report: red, broken, stopped, or a breach no longer seen."""


def drill_name(record: DrillRecord) -> str:
    return f"{record.scenario} / {record.option}" if record.option else record.scenario


def rto_text(record: DrillRecord) -> str:
    rto = record.rto
    if rto is None:
        return "RTO not measured"
    verdict = "within" if rto.within_objective else "BREACH of"
    return (
        f"RTO {rto.seconds:.2f} s (error bar -{rto.error_bar_seconds:.2f} s), {verdict} the "
        f"objective {format_duration(rto.objective_seconds)}"
    )


def rpo_text(record: DrillRecord) -> str:
    rpo = record.rpo
    if rpo is None:
        return "data loss not measured"
    verdict = "within" if rpo.within_objective else "BREACH of"
    return (
        f"{rpo.lost} of {rpo.acknowledged} acknowledged writes lost, RPO {rpo.seconds:.1f} s, "
        f"{verdict} the objective {format_duration(rpo.objective_seconds)}"
    )


def figures_line(record: DrillRecord) -> str:
    """ "<drill>: <outcome>; RTO ...; data loss ...[; <failure>]"."""
    parts = [f"{drill_name(record)}: {record.outcome}", rto_text(record), rpo_text(record)]
    if record.failure:
        parts.append(record.failure)
    return "; ".join(parts)
