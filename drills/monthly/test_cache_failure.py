"""Scenario 3 of the DR plan: Cache/Redis Failure.

Symptoms: cache misses increasing, Redis connection errors, performance degradation.
Recovery actions (10-20 min): Option A, pod restart (`kubectl delete pod redis-0`, then wait
ready); Option B, failover to the standby: Sentinel fails over by itself, and the new master is
verified with `redis-cli SENTINEL get-master-addr-by-name mymaster`.
Verification: Redis connectivity, cache operations, cache hit rates, application performance.

What the RTO measures here: the service users see, through the same front door, until it
reports its cache healthy again (`checks.cache == "ok"` in /health). ELEANOR keeps answering
while its cache is down (degraded, not failed: the load shows whether users saw errors), so the
outage this RTO bounds is the loss of the cache's function, on the cache's tier (non_critical).

On a target without an end-to-end probe (simulated pods) Option A runs at the platform level
(redis-0 killed, recreated by its StatefulSet, Ready; timed on the API server's clock) and the
Redis checks are recorded as not run; Option B needs Sentinel's failover, which happens inside
Redis, so it runs on the embedded stack and on real clusters with Sentinel only.
"""

from __future__ import annotations

import pytest

from drillbook.config.model import Component
from drillbook.engine.drill import Drill
from drillbook.engine.reach import reaches_service, service_checks
from drillbook.load.checks import load_error_rate_normal, performance_normal
from drillbook.probes.redis import current_master
from drillbook.scenarios.cache.checks import (
    cache_hit_rate_reported,
    cache_operations_work,
    redis_connectivity,
)
from drillbook.scenarios.cache.faults import kill_cache_master
from drillbook.scenarios.cache.runbook import (
    await_sentinel_failover,
    restart_cache,
    restart_old_master,
)
from drillbook.scenarios.common import (
    critical_endpoints_respond,
    error_rate_normal,
    health_checks_pass,
)
from drillbook.scenarios.workloads.faults import kill_replicas

pytestmark = pytest.mark.drill(scenario="cache-failure", component="cache")

VERIFY = (
    health_checks_pass,
    critical_endpoints_respond,
    error_rate_normal,
    load_error_rate_normal,
    performance_normal,
)
REDIS_VERIFY = (redis_connectivity, cache_operations_work, cache_hit_rate_reported)


@pytest.mark.drill(option="Option A: pod restart")
def test_redis_lost_recovered_by_restart(drill: Drill, cache: Component) -> None:
    """Every Redis node killed: recovered by restarting the Redis pods."""
    if reaches_service(drill, "Sentinel names a master before the fault"):
        current_master(drill.config.cache)  # a settled cache before the fault
    drill.inject(kill_replicas(drill.platform, cache.name, count="all"))
    drill.wait_until_detected()
    drill.recover(
        restart_cache(
            drill.platform, cache, ready_timeout=drill.config.objectives.rto_for(cache.tier)
        )
    )
    drill.wait_until_recovered()
    drill.verify(*VERIFY, *service_checks(drill, *REDIS_VERIFY))
    drill.assert_objectives()


@pytest.mark.drill(
    option="Option B: Sentinel failover to the standby",
    needs_service="Redis with its Sentinels (the failover happens inside Redis)",
)
def test_master_lost_sentinel_fails_over(drill: Drill, cache: Component) -> None:
    """The Redis master killed: Sentinel promotes the replica; the old master rejoins."""
    master = current_master(drill.config.cache)
    drill.inject(kill_cache_master(drill.platform, cache.name, master))
    drill.wait_until_detected()
    assert drill.fault_at is not None
    drill.recover(
        await_sentinel_failover(drill.config.cache, old_master=master, fault_at=drill.fault_at),
        restart_old_master(drill.platform, cache, drill.config.cache, old_master=master),
    )
    drill.wait_until_recovered()
    drill.verify(*VERIFY, *REDIS_VERIFY)
    drill.assert_objectives()
    watched = drill.companion("cache").figures()
    assert watched["failover_seconds"] is not None, "the cache watch saw no failover"
    assert watched["master_after"] != master.address
