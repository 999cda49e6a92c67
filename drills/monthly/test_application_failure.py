"""Scenario 1 of the DR plan: Application Failure.

Symptoms: API endpoints returning 5xx, health checks failing. Recovery actions (10-15 min):
`kubectl rollout restart deployment/eleanor-v8 -n eleanor-v8`, `kubectl scale
deployment/eleanor-v8 --replicas=N -n eleanor-v8`, then `kubectl rollout status`.
Verification: health checks passing, critical endpoints responding, error rates normal.
"""

from __future__ import annotations

import pytest

from drillbook.config.model import Component
from drillbook.engine.drill import Drill
from drillbook.load.checks import load_error_rate_normal, performance_normal
from drillbook.scenarios.common import (
    critical_endpoints_respond,
    error_rate_normal,
    health_checks_pass,
)
from drillbook.scenarios.workloads.faults import kill_replicas, scale_down
from drillbook.scenarios.workloads.runbook import restart_workload, scale_workload

pytestmark = pytest.mark.drill(scenario="application-failure", component="app")

# How long the service is watched after losing one replica: long enough for the proxy's health
# checks to mark it down (2 x 250 ms) many times over.
ABSORB_WINDOW_SECONDS = 3.0


@pytest.mark.drill(option="one replica lost, service keeps serving")
def test_one_replica_lost_is_absorbed(drill: Drill, app: Component) -> None:
    """One application replica killed: the other replicas keep the service up."""
    drill.inject(kill_replicas(drill.platform, app.name, count=1))
    drill.observe_no_outage(ABSORB_WINDOW_SECONDS)
    drill.verify(health_checks_pass, critical_endpoints_respond, error_rate_normal)


@pytest.mark.drill(option="all replicas lost, rollout restart")
def test_all_replicas_lost_recovered_by_restart(drill: Drill, app: Component) -> None:
    """Every application replica killed: recovered by the plan's rollout restart."""
    drill.inject(kill_replicas(drill.platform, app.name, count="all"))
    drill.wait_until_detected()
    drill.recover(
        restart_workload(
            drill.platform, app, ready_timeout=drill.config.objectives.rto_for(app.tier)
        )
    )
    drill.wait_until_recovered()
    drill.verify(
        health_checks_pass,
        critical_endpoints_respond,
        error_rate_normal,
        load_error_rate_normal,
        performance_normal,
    )
    drill.assert_objectives()


@pytest.mark.drill(option="capacity lost (scaled to zero), kubectl scale")
def test_scaled_to_zero_recovered_by_scaling_up(drill: Drill, app: Component) -> None:
    """The application scaled to zero replicas: recovered by the plan's kubectl scale."""
    deployed = drill.platform.status(app.name).desired
    drill.inject(scale_down(drill.platform, app.name, replicas=0))
    drill.wait_until_detected()
    drill.recover(
        scale_workload(
            drill.platform, app, deployed, ready_timeout=drill.config.objectives.rto_for(app.tier)
        )
    )
    drill.wait_until_recovered()
    drill.verify(
        health_checks_pass,
        critical_endpoints_respond,
        error_rate_normal,
        load_error_rate_normal,
        performance_normal,
    )
    drill.assert_objectives()
