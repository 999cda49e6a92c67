"""Probes of scenario 3 (cache failure): the plan's verification of the cache."""

from drillbook.chaos.activity import phase
from drillbook.chaos.session import current
from drillbook.chaos.steps import check
from drillbook.engine.reach import service_checks
from drillbook.scenarios.cache import checks

__all__ = ["cache_hit_rate_reported", "cache_operations_work", "redis_connectivity"]


@phase("verify")
def redis_connectivity() -> bool:
    """Redis answers PING through Sentinel's master, and the service reports its cache ok."""
    session = current()
    return check(session, *service_checks(session.drill, checks.redis_connectivity))


@phase("verify")
def cache_operations_work() -> bool:
    """A write and a read through the master work."""
    session = current()
    return check(session, *service_checks(session.drill, checks.cache_operations_work))


@phase("verify")
def cache_hit_rate_reported() -> bool:
    """The cache's hit rate is reported again after recovery."""
    session = current()
    return check(session, *service_checks(session.drill, checks.cache_hit_rate_reported))
