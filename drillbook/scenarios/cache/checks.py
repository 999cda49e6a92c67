"""The plan's verification of scenario 3 (Cache/Redis Failure), as checks a drill runs.

"Verify Redis connectivity", "Test cache operations", "Monitor cache hit rates"; "Verify
application performance" is the load's `performance_normal` (drillbook.load.checks). The cache
is reached as the application reaches it: through Sentinel.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import redis

from drillbook.core.steps import CheckResult, checklist_item
from drillbook.errors import InvalidDrill
from drillbook.probes.redis import connection, master_client, snapshot

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

CONNECTIVITY = "Redis connectivity"
OPERATIONS = "cache operations"
HIT_RATES = "cache hit rates"
_REPLICA_ACK_MILLISECONDS = 2000


@checklist_item(CONNECTIVITY)
def redis_connectivity(drill: Drill) -> CheckResult:
    """Every Sentinel names the same master, which answers PING and reports role master."""
    settings = drill.config.cache
    seen = snapshot(settings)
    agreed = seen.agreed_master
    figures = {"sentinels": dict(seen.sentinel_masters), "roles": seen.roles}
    if agreed is None:
        return CheckResult(
            CONNECTIVITY,
            False,
            f"the Sentinels do not agree on a master: {dict(seen.sentinel_masters)}",
            figures,
        )
    try:
        with connection(agreed) as client:
            pong = bool(client.ping())
            role = str(client.info("replication").get("role"))
    except redis.RedisError as exc:
        return CheckResult(CONNECTIVITY, False, f"master {agreed} unreachable: {exc}", figures)
    down = [n.name for n in seen.nodes.values() if not n.up]
    passed = pong and role == "master" and not down
    return CheckResult(
        CONNECTIVITY,
        passed,
        f"{len(seen.sentinel_masters)} Sentinels agree on master {agreed} (role {role}, PING "
        f"{'ok' if pong else 'failed'})" + (f"; nodes down: {down}" if down else ""),
        {**figures, "master": agreed},
    )


@checklist_item(OPERATIONS)
def cache_operations_work(drill: Drill) -> CheckResult:
    """SET, GET and DEL through Sentinel's master, and the write reaches every replica."""
    settings = drill.config.cache
    replicas = max(0, len(settings.nodes) - 1)
    key = f"drillbook:check:{uuid.uuid4().hex}"
    # The socket timeout must outlast WAIT, which blocks until the replicas acknowledge.
    client = master_client(settings, timeout=_REPLICA_ACK_MILLISECONDS / 1000 + 1.0)
    try:
        client.set(key, "drill", ex=60)
        value = client.get(key)
        acked = int(client.wait(replicas, _REPLICA_ACK_MILLISECONDS))
        deleted = int(client.delete(key))
    except redis.RedisError as exc:
        return CheckResult(
            OPERATIONS, False, f"cache operation failed: {type(exc).__name__}: {exc}"
        )
    finally:
        client.close()
    passed = value == "drill" and deleted == 1 and acked >= replicas
    return CheckResult(
        OPERATIONS,
        passed,
        f"SET/GET/DEL through Sentinel {'ok' if value == 'drill' and deleted == 1 else 'FAILED'}; "
        f"write acknowledged by {acked} of {replicas} replicas",
        {"read_back": value == "drill", "replicas_acknowledged": acked, "replicas": replicas},
    )


@checklist_item(HIT_RATES)
def cache_hit_rate_reported(drill: Drill) -> CheckResult:
    """Hit rates before, during and after; after recovery the cache must serve hits again."""
    try:
        watch = drill.companion("cache")
    except InvalidDrill:
        return CheckResult(HIT_RATES, False, "no cache watch ran (no Sentinels configured)")
    rates = watch.figures()["hit_rates"]
    after = rates["recovered"]

    def shown(rate: dict[str, object]) -> str:
        value = rate["hit_rate"]
        return "-" if not isinstance(value, float) else f"{value:.1%}"

    detail = (
        f"hit rate before {shown(rates['baseline'])}, during {shown(rates['fault'])}, "
        f"after {shown(after)} ({after['hits']} hits, {after['misses']} misses after recovery)"
    )
    if after["hits"] + after["misses"] == 0:
        return CheckResult(HIT_RATES, False, "no cache reads after recovery: " + detail, rates)
    return CheckResult(HIT_RATES, after["hits"] > 0, detail, rates)
