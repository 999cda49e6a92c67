"""Probes of scenario 1 (application failure)."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.session import current
from drillbook.chaos.steps import jsonable

__all__ = ["service_absorbs_fault"]


@phase("observe")
def service_absorbs_fault(seconds: float = 3.0) -> dict[str, Any]:
    """For a fault the service should take in its stride (one replica of several lost): probe
    for `seconds` and require that users saw no outage (fails, with what they saw, if they did)."""
    measurement = current().drill.observe_no_outage(seconds)
    return jsonable(
        {"outage_observed": measurement.outage_observed, "description": measurement.describe()}
    )
