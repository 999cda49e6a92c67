"""Cache faults: lose the Redis master (the plan's scenario 3).

Losing every Redis node is the workloads' `kill_replicas(..., count="all")` on the cache
component (Option A, drillbook.scenarios.workloads.faults); losing only the master, so that
Sentinel must fail over, is here (Option B). Either way the undo brings the cache back to its
desired nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.core.platform import Platform
from drillbook.core.steps import Fault, undone_by
from drillbook.probes.redis import CacheNode
from drillbook.scenarios.workloads.faults import reconcile


@undone_by("bring the cache back to its desired nodes (the old master restarted)")
def kill_cache_master(platform: Platform, component: str, master: CacheNode) -> Fault:
    """SIGKILL the cache's master node (find it with `drillbook.probes.redis.current_master`)."""

    def inject() -> Mapping[str, Any]:
        killed = platform.kill(component, names=[master.name])
        return {
            "killed": [r.name for r in killed],
            "pids": [r.pid for r in killed],
            "master": master.address,
        }

    return Fault(
        name=f"kill-{component}-master",
        description=f"kill the Redis master {master.name} ({master.address}) of {component}",
        inject=inject,
        undo=reconcile(platform, component, desired="nodes"),
        stops=component,
    )
