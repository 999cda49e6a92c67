"""Recovery steps of the plan's scenario 3 (Cache/Redis Failure).

Option A (pod failure): delete the Redis pod and wait until it is ready again.
Option B (Sentinel): Sentinel fails over by itself; the runbook verifies the new master with
`SENTINEL get-master-addr-by-name mymaster`, here asked of *every* Sentinel. When the old
master's pod comes back it must rejoin as a replica; until Sentinel converts it, it is a second
master (split brain), which is measured, not hidden.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from drillbook.config.model import CacheSettings, Component
from drillbook.core.platform import Platform
from drillbook.core.polling import poll_until
from drillbook.core.steps import RecoveryStep
from drillbook.errors import RecoveryTimeout, VerificationFailed
from drillbook.probes.redis import CacheNode, CacheSnapshot, snapshot
from drillbook.scenarios.workloads.runbook import replace_pod

_POLL_SECONDS = 0.05


def _namespace(component: Component) -> str:
    return f" -n {component.namespace}" if component.namespace else ""


def restart_cache(platform: Platform, cache: Component, *, ready_timeout: float) -> RecoveryStep:
    """Option A: `kubectl delete pod ... redis-0` then `kubectl wait --for=condition=ready`."""

    def run() -> Mapping[str, Any]:
        # Where the StatefulSet has recreated redis-0 already, only the wait remains.
        return replace_pod(platform, cache, ready_timeout=ready_timeout)

    selector = f" -l {cache.selector}" if cache.selector else ""
    return RecoveryStep(
        name=f"restart {cache.name}",
        command=(
            f"kubectl delete pod{_namespace(cache)} redis-0 && kubectl wait "
            f"--for=condition=ready pod{_namespace(cache)}{selector} --timeout=5m"
        ),
        run=run,
    )


def await_sentinel_failover(
    settings: CacheSettings, *, old_master: CacheNode, fault_at: float
) -> RecoveryStep:
    """Option B: wait until every Sentinel names one new master, which answers as master.

    The failover time is from the fault to the first moment all Sentinels agreed (polled
    every 50 ms, so that is its resolution).
    """

    def failed_over(seen: CacheSnapshot) -> bool:
        agreed = seen.agreed_master
        if agreed is None or agreed == old_master.address:
            return False
        node = seen.node_at(agreed)
        return node is not None and node.role == "master"

    def not_failed_over(seen: CacheSnapshot) -> RecoveryTimeout:
        return RecoveryTimeout(
            f"Sentinel did not fail over within {settings.failover_timeout_seconds:.0f}s "
            f"of losing the master {old_master.name} ({old_master.address}): Sentinels "
            f"say {dict(seen.sentinel_masters)}, nodes say "
            f"{seen.roles}"
        )

    def run() -> Mapping[str, Any]:
        seen = poll_until(
            lambda: snapshot(settings),
            failed_over,
            timeout=settings.failover_timeout_seconds,
            interval=_POLL_SECONDS,
            since=fault_at,
            give_up=not_failed_over,
        )
        agreed = seen.agreed_master
        node = seen.node_at(agreed) if agreed is not None else None
        assert agreed is not None and node is not None
        return {
            "new_master": agreed,
            "new_master_node": node.name,
            "failover_seconds": round(seen.at - fault_at, 4),
            "sentinels": dict(seen.sentinel_masters),
        }

    return RecoveryStep(
        name="confirm the new master",
        command=(
            f"redis-cli SENTINEL get-master-addr-by-name {settings.master_name} "
            f"(on each of {len(settings.sentinels)} sentinels)"
        ),
        run=run,
    )


def restart_old_master(
    platform: Platform, cache: Component, settings: CacheSettings, *, old_master: CacheNode
) -> RecoveryStep:
    """The old master's pod comes back and must rejoin as a replica of the new master.

    Reports how long two nodes claimed to be master at once (split brain) and fails if the old
    master has not rejoined within `cache.rejoin_timeout`.
    """

    def rejoined(seen: CacheSnapshot) -> bool:
        returned = seen.nodes.get(old_master.name)
        agreed = seen.agreed_master
        return bool(
            returned is not None
            and returned.role == "slave"
            and returned.link_up
            and agreed is not None
            and returned.master_address == agreed
            and len(seen.masters) == 1
        )

    def not_rejoined(seen: CacheSnapshot) -> RecoveryTimeout:
        return RecoveryTimeout(
            f"the old master {old_master.name} did not rejoin as a replica within "
            f"{settings.rejoin_timeout_seconds:.0f}s: nodes say "
            f"{seen.roles}, "
            f"Sentinels say {dict(seen.sentinel_masters)}"
        )

    def run() -> Mapping[str, Any]:
        started = time.monotonic()
        platform.start(cache.name)
        split_since: float | None = None
        split_seconds = 0.0
        promoted: str | None = None

        def look() -> CacheSnapshot:
            nonlocal split_since, split_seconds, promoted
            seen = snapshot(settings)
            if promoted is None and seen.agreed_master not in (None, old_master.address):
                promoted = seen.agreed_master
            if promoted is not None and seen.agreed_master == old_master.address:
                # Sentinel failed over a SECOND time, back to the old master: it judged the
                # master it had just promoted down. That is a second outage of writes (and what
                # that master took meanwhile is lost), not the rejoin the plan expects.
                raise VerificationFailed(
                    f"Sentinel failed over a second time: the Sentinels moved the master from "
                    f"{promoted} back to the old master {old_master.name} "
                    f"({old_master.address}) {seen.at - started:.1f}s after it restarted, "
                    f"instead of making it a replica; nodes say "
                    f"{seen.roles}. Sentinel "
                    "judged the new master down (no reply within down-after-milliseconds): "
                    "check the Sentinel logs for +sdown/+odown of it, and whether its "
                    "down-after-milliseconds survives a stall of the machine"
                )
            if len(seen.masters) > 1:
                split_since = seen.at if split_since is None else split_since
            elif split_since is not None:
                split_seconds += seen.at - split_since
                split_since = None
            return seen

        seen = poll_until(
            look,
            rejoined,
            timeout=settings.rejoin_timeout_seconds,
            interval=_POLL_SECONDS,
            since=started,
            give_up=not_rejoined,
        )
        return {
            "rejoined_after_seconds": round(seen.at - started, 4),
            "split_brain_seconds": round(split_seconds, 4),
            "master": seen.agreed_master,
        }

    return RecoveryStep(
        name=f"old master {old_master.name} rejoins as replica",
        command=(
            f"kubectl wait --for=condition=ready pod/{old_master.name}{_namespace(cache)} "
            "--timeout=5m && redis-cli INFO replication"
        ),
        run=run,
    )
