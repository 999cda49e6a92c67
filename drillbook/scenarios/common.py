"""The plan's general recovery checklist, which every scenario's drills run after recovery.

"All health checks passing", "critical endpoints responding", "error rates normal": each is a
function of the drill that returns a CheckResult with its evidence. A scenario's own items live
in its package (drillbook.scenarios.<resource>.checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from drillbook.core.probe import Probe
from drillbook.core.steps import CheckResult, checklist_item
from drillbook.core.timeline import UNHEALTHY, Sample, SampleStatus, describe_unhealthy

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


def _sample_all(drill: Drill, probers: Sequence[Probe]) -> list[Sample]:
    return [prober.sample(drill.clock) for prober in probers]


def _describe(samples: Sequence[Sample]) -> str:
    return "; ".join(
        f"{s.probe}: {s.status}" + (f" ({s.detail})" if s.detail else "") for s in samples
    )


@checklist_item("health checks passing")
def health_checks_pass(drill: Drill) -> CheckResult:
    """Every configured health probe answers healthy now."""
    samples = _sample_all(drill, drill.endpoints.health)
    passed = bool(samples) and all(s.status is SampleStatus.OK for s in samples)
    return CheckResult(
        "health checks passing",
        passed,
        _describe(samples) if samples else "no health probe configured",
        {s.probe: str(s.status) for s in samples},
    )


@checklist_item("critical endpoints responding")
def critical_endpoints_respond(drill: Drill) -> CheckResult:
    """Every configured critical endpoint answers as expected now."""
    samples = _sample_all(drill, drill.endpoints.critical)
    passed = all(s.status is SampleStatus.OK for s in samples)
    return CheckResult(
        "critical endpoints responding",
        passed,
        _describe(samples) if samples else "no critical endpoint configured (nothing to test)",
        {
            s.probe: {"status": str(s.status), "latency_seconds": round(s.latency_seconds, 4)}
            for s in samples
        },
    )


@checklist_item("error rates normal")
def error_rate_normal(drill: Drill) -> CheckResult:
    """The probes' error rate since recovery is within the configured maximum."""
    limit = drill.config.verification.error_rate_max
    measurement = drill.measurement
    since = (
        measurement.recovered_at
        if measurement is not None and measurement.recovered_at is not None
        else drill.fault_at
    )
    samples = [
        s
        for s in drill.timeline.samples
        if s.probe in drill.probe_names
        and since is not None
        and s.sent_at >= since
        and s.status is not SampleStatus.THROTTLED
    ]
    if not samples:
        return CheckResult("error rates normal", False, "no samples since recovery to judge")
    errors = sum(1 for s in samples if s.status in UNHEALTHY)
    rate = errors / len(samples)
    seen = f"; {describe_unhealthy(samples, fault_at=drill.fault_at or 0.0)}" if errors else ""
    return CheckResult(
        "error rates normal",
        rate <= limit,
        f"{errors} of {len(samples)} probe samples since recovery unhealthy "
        f"({rate:.1%}, allowed {limit:.1%}){seen}",
        {"error_rate": rate, "samples": len(samples), "allowed": limit},
    )
