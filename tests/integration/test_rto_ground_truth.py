"""The measured RTO against the ground truth: the restarted replica's own first served request.

The drill measures from outside, through the proxy, like a user; the reference service records,
from inside, the CLOCK_MONOTONIC moment it first served a request after the restart. The two must
agree within one probe interval (the error bar) plus 0.2 s of scheduling slack.
"""

from __future__ import annotations

import pytest

from drillbook.config.model import Component
from drillbook.engine.drill import Drill
from drillbook.scenarios.workloads.faults import kill_replicas
from drillbook.scenarios.workloads.runbook import restart_workload
from tests.integration.ground_truth import first_served

pytestmark = [pytest.mark.integration]

SLACK_SECONDS = 0.2


@pytest.mark.parametrize("attempt", [1, 2, 3])
@pytest.mark.drill(scenario="application-failure", component="app", option="ground truth")
def test_measured_rto_lies_within_one_interval_of_ground_truth(
    drill: Drill, app: Component, attempt: int
) -> None:
    drill.inject(kill_replicas(drill.platform, app.name, count="all"))
    drill.wait_until_detected()
    drill.recover(restart_workload(drill.platform, app, ready_timeout=60))
    measurement = drill.wait_until_recovered()
    assert drill.fault_at is not None and measurement.rto_seconds is not None

    records = first_served(drill.platform, app.name)
    assert records, "no restarted replica logged its first served request"
    truth = min(r.monotonic for r in records) - drill.fault_at
    difference = measurement.rto_seconds - truth
    allowed = drill.config.probing.interval_seconds + SLACK_SECONDS
    print(
        f"attempt {attempt}: measured RTO {measurement.rto_seconds:.3f}s, ground truth "
        f"{truth:.3f}s, difference {difference:+.3f}s (allowed +-{allowed:.2f}s)"
    )
    drill.note("ground truth", truth_seconds=truth, difference_seconds=difference)
    assert abs(difference) <= allowed, (
        f"measured RTO {measurement.rto_seconds:.3f}s vs ground truth {truth:.3f}s: "
        f"off by {difference:+.3f}s, more than one probe interval plus {SLACK_SECONDS}s"
    )
