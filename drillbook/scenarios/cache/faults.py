"""Cache faults: lose the Redis master (the plan's scenario 3).

Losing every Redis node is `drillbook.faults.process.kill_replicas(..., count="all")` on the
cache component (Option A); losing only the master, so that Sentinel must fail over, is here
(Option B). Either way the undo brings the cache back to its desired nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drillbook.engine.steps import Fault
from drillbook.engine.undo import UndoAction
from drillbook.platforms.base import Platform
from drillbook.probes.redis import CacheNode


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
        undo=UndoAction(
            description=f"bring {component} back to its desired nodes",
            platform=platform.name,
            verb="reconcile",
            args={"component": component},
        ),
    )
