"""The `[objectives]` table: the recovery objectives (RTO per tier, RPO, allowed losses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.schema import Context, Duration, Integer, build, setting

__all__ = ["TIERS", "Objectives", "Tier", "parse"]

Tier = Literal["critical", "non_critical", "full"]
TIERS: Final[tuple[Tier, ...]] = get_args(Tier)

_RTO = Duration(positive="a recovery time objective longer than 0")


@dataclass(frozen=True)
class Objectives:
    """The recovery objectives a drill is judged against; defaults are the DR plan's."""

    rto_critical_seconds: float = field(
        default=900.0,
        metadata=setting(
            _RTO, "RTO for critical systems (the plan: 15 minutes).", key="rto_critical"
        ),
    )
    rto_non_critical_seconds: float = field(
        default=3600.0,
        metadata=setting(
            _RTO, "RTO for non-critical systems (the plan: 1 hour).", key="rto_non_critical"
        ),
    )
    rto_full_seconds: float = field(
        default=14400.0,
        metadata=setting(
            _RTO, "RTO for full service restoration (the plan: 4 hours).", key="rto_full"
        ),
    )
    rpo_seconds: float = field(
        default=300.0,
        metadata=setting(Duration(), "Data-loss tolerance (the plan: 5 minutes).", key="rpo"),
    )
    evidence_loss_allowed: int = field(
        default=0,
        metadata=setting(
            Integer(minimum=0),
            "Evidence records that may be lost (the plan: zero, the audit log is immutable).",
        ),
    )
    configuration_loss_allowed: int = field(
        default=0,
        metadata=setting(
            Integer(minimum=0),
            "Configuration items that may be lost (the plan: zero, it is version controlled).",
        ),
    )

    def rto_for(self, tier: Tier) -> float:
        """The RTO in seconds that applies to a component or drill of `tier`."""
        if tier == "critical":
            return self.rto_critical_seconds
        if tier == "non_critical":
            return self.rto_non_critical_seconds
        if tier == "full":
            return self.rto_full_seconds
        raise ValueError(f"unknown tier {tier!r}, expected one of {', '.join(TIERS)}")


def parse(context: Context, table: dict[str, Any]) -> Objectives:
    return build(context, "objectives", table, Objectives)
