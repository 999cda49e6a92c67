"""Tolerances for the objective probes: "within the objective for this tier".

"tolerance": {"type": "probe", "name": "within-the-tier-objective",
              "provider": {"type": "python", "module": "drillbook.chaos.tolerances",
                           "func": "within_objective", "arguments": {}}}
"""

from typing import Any

__all__ = ["within_objective"]


def within_objective(value: Any = None) -> bool:
    """True when the probe's figures say the objective is met (`within_objective`)."""
    return isinstance(value, dict) and value.get("within_objective") is True
