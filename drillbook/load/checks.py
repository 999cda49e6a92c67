"""The checklist items the load answers: "error rates normal" and "performance metrics normal".

Both compare what the load saw after recovery with what it saw before the fault, with the
margins of `[load]`: the error rate may exceed the baseline's by `error_rate_margin`; the
`latency_percentile` (median by default) may be at most `latency_ratio_max` x the baseline's +
`latency_slack`, judged from `settle` after recovery on. A phase with fewer than `min_requests`
requests cannot be judged, and a check that cannot judge fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.core.steps import CheckResult, checklist_item
from drillbook.errors import InvalidDrill
from drillbook.load.companion import LoadCompanion
from drillbook.load.stats import PhaseStats

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

ERROR_RATES = "error rates normal (load)"
PERFORMANCE = "performance metrics normal"


def _load(drill: Drill) -> LoadCompanion | str:
    try:
        companion = drill.companion("load")
    except InvalidDrill:
        return (
            "no load ran during this drill ([load] enabled = false?): nothing to judge; "
            "enable the load or leave this check out of the drill"
        )
    assert isinstance(companion, LoadCompanion)
    return companion


def _phases(
    drill: Drill, title: str, *, settle_seconds: float = 0.0
) -> tuple[PhaseStats, PhaseStats] | CheckResult:
    load = _load(drill)
    if isinstance(load, str):
        return CheckResult(title, False, load)
    baseline = load.phase_stats()["baseline"]
    after = load.settled_stats(settle_seconds)
    if after is None:
        return CheckResult(title, False, "the service has not recovered: no after-recovery load")
    need = drill.config.load.min_requests
    if baseline.judged < need or after.judged < need:
        since = f" (from {settle_seconds:g} s after it)" if settle_seconds else ""
        return CheckResult(
            title,
            False,
            f"too few load requests to judge: {baseline.judged} before the fault and "
            f"{after.judged} after recovery{since}, {need} needed in each ([load] "
            "min_requests); raise [load] rate or [verification] window",
            {"baseline_requests": baseline.judged, "after_requests": after.judged},
        )
    return baseline, after


@checklist_item(ERROR_RATES)
def load_error_rate_normal(drill: Drill) -> CheckResult:
    """The load's error rate after recovery is at most the baseline's plus the margin."""
    phases = _phases(drill, ERROR_RATES)
    if isinstance(phases, CheckResult):
        return phases
    baseline, after = phases
    margin = drill.config.load.error_rate_margin
    base_rate = baseline.error_rate or 0.0
    after_rate = after.error_rate or 0.0
    allowed = base_rate + margin
    return CheckResult(
        ERROR_RATES,
        after_rate <= allowed,
        f"{after.errors} of {after.judged} load requests failed after recovery "
        f"({after_rate:.2%}); baseline {base_rate:.2%}, allowed {allowed:.2%}"
        + (f"; after recovery: {after.failures_text()}" if after.errors else "")
        + (
            f"; the first sent {after.first_failure_seconds:.2f} s after recovery"
            if after.first_failure_seconds is not None
            else ""
        ),
        {"after_error_rate": after_rate, "baseline_error_rate": base_rate, "allowed": allowed},
    )


def _latency(stats: PhaseStats, percentile: int) -> float | None:
    return {50: stats.p50_seconds, 95: stats.p95_seconds, 99: stats.p99_seconds}[percentile]


@checklist_item(PERFORMANCE)
def performance_normal(drill: Drill) -> CheckResult:
    """The judged latency percentile after recovery (once settled) is within
    `latency_ratio_max` x the baseline's + `latency_slack`."""
    settings = drill.config.load
    settle = settings.settle_seconds
    phases = _phases(drill, PERFORMANCE, settle_seconds=settle)
    if isinstance(phases, CheckResult):
        return phases
    baseline, after = phases
    name = f"p{settings.latency_percentile}"
    before_value = _latency(baseline, settings.latency_percentile)
    after_value = _latency(after, settings.latency_percentile)
    if before_value is None or after_value is None:
        return CheckResult(
            PERFORMANCE,
            False,
            "no successful load request in the baseline or after recovery: no latency to judge",
        )
    allowed = before_value * settings.latency_ratio_max + settings.latency_slack_seconds
    return CheckResult(
        PERFORMANCE,
        after_value <= allowed,
        f"{name} latency after recovery (from +{settle:g} s) {after_value * 1000:.1f} ms, "
        f"baseline {before_value * 1000:.1f} ms, allowed {allowed * 1000:.1f} ms "
        f"({settings.latency_ratio_max:g} x baseline + {settings.latency_slack_seconds * 1000:.0f}"
        f" ms); after recovery p95 {_ms(after.p95_seconds)}, p99 {_ms(after.p99_seconds)}",
        {
            "percentile": settings.latency_percentile,
            "after_seconds": after_value,
            "baseline_seconds": before_value,
            "allowed_seconds": allowed,
            "after_p50_seconds": after.p50_seconds,
            "after_p95_seconds": after.p95_seconds,
            "after_p99_seconds": after.p99_seconds,
            "after_requests": after.judged,
            "settle_seconds": settle,
        },
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"
