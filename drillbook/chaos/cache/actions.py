"""Actions of scenario 3 (cache failure): faults and the plan's runbook steps.

Option A: every Redis node killed, recovered by restarting the Redis pods. Option B: the
master killed, Sentinel promotes the replica by itself (waited for and verified with
`SENTINEL get-master-addr-by-name`), and the old master restarted to rejoin as a replica.
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.session import ChaosSession, current
from drillbook.chaos.steps import inject, recover
from drillbook.errors import InvalidDrill
from drillbook.probes.redis import CacheNode, current_master
from drillbook.scenarios.cache import faults, runbook
from drillbook.scenarios.workloads.faults import kill_replicas

__all__ = [
    "await_sentinel_failover",
    "kill_cache",
    "kill_cache_master",
    "restart_cache",
    "restart_old_master",
]

_MASTER_KEY = "cache_master_killed"


@phase("inject")
def kill_cache(component: str = "cache") -> dict[str, Any]:
    """Option A's fault: every Redis node killed (SIGKILL); undo journaled first."""
    session = current()
    name = session.component(component).name
    return inject(session, kill_replicas(session.platform, name, count="all"))


@phase("inject")
def kill_cache_master(component: str = "cache") -> dict[str, Any]:
    """Option B's fault: the master Sentinel names now is killed; undo journaled first."""
    session = current()
    master = current_master(session.drill.config.cache)
    session.memo[_MASTER_KEY] = master
    name = session.component(component).name
    return inject(session, faults.kill_cache_master(session.platform, name, master))


@phase("recover")
def restart_cache(component: str = "cache") -> dict[str, Any]:
    """Option A: `kubectl delete pod redis-0`, then wait until ready (at most the RTO)."""
    session = current()
    target = session.component(component)
    ready = session.drill.config.objectives.rto_for(target.tier)
    return recover(session, runbook.restart_cache(session.platform, target, ready_timeout=ready))


@phase("recover")
def await_sentinel_failover() -> dict[str, Any]:
    """Option B: wait until Sentinel names a new master (within [cache] failover_timeout)."""
    session = current()
    fault_at = session.drill.fault_at
    assert fault_at is not None, "the master was killed before"
    step = runbook.await_sentinel_failover(
        session.drill.config.cache, old_master=_killed(session), fault_at=fault_at
    )
    return recover(session, step)


@phase("recover")
def restart_old_master(component: str = "cache") -> dict[str, Any]:
    """Option B: start the old master again and wait until it rejoins as a replica."""
    session = current()
    step = runbook.restart_old_master(
        session.platform,
        session.component(component),
        session.drill.config.cache,
        old_master=_killed(session),
    )
    return recover(session, step)


def _killed(session: ChaosSession) -> CacheNode:
    master = session.memo.get(_MASTER_KEY)
    if not isinstance(master, CacheNode):
        raise InvalidDrill("run kill_cache_master first: this step needs the master it killed")
    return master
