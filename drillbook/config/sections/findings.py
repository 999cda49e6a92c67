"""The `[findings]` table: which findings fail a drill instead of only being reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Context, Integer, TextList, build, setting
from drillbook.core.findings import KINDS

__all__ = ["FindingSettings", "parse"]


@dataclass(frozen=True)
class FindingSettings:
    """Findings are defects of the service a drill shows beside its verdict."""

    fail_on: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            "Finding kinds that fail the drill instead of only being reported, among "
            + ", ".join(KINDS)
            + ".",
        ),
    )
    blind_spot_min_samples: int = field(
        default=3,
        metadata=setting(
            Integer(minimum=1),
            "health-blind-spot: how many failed end-to-end samples with a healthy health probe "
            "beside them raise the finding (they must also be at least half of the failed ones).",
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> FindingSettings:
    settings = build(context, "findings", table, FindingSettings)
    unknown = [kind for kind in settings.fail_on if kind not in KINDS]
    if unknown:
        context.fail(
            "findings.fail_on", list(settings.fail_on), f"finding kinds among {', '.join(KINDS)}"
        )
    return settings
