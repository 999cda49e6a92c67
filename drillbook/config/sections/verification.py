"""The `[verification]` table: how the plan's checklist judges a service that has just
recovered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Context, Duration, Fraction, build, setting

__all__ = ["VerificationSettings", "parse"]


@dataclass(frozen=True)
class VerificationSettings:
    """How the plan's verification checklist judges a service that has just recovered."""

    window_seconds: float = field(
        default=10.0,
        metadata=setting(
            Duration(),
            "How long to keep watching after recovery before judging it, so relapses are caught.",
            key="window",
        ),
    )
    error_rate_max: float = field(
        default=0.01,
        metadata=setting(
            Fraction("a fraction from 0 to 1, e.g. 0.05 for 5%"),
            "Largest share (0 to 1) of unhealthy probe samples since recovery that still counts "
            'as normal (the plan\'s "error rates normal").',
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> VerificationSettings:
    return build(context, "verification", table, VerificationSettings)
