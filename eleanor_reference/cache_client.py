"""How the reference service reaches its Redis: through Sentinel, as a production client does.

With `ELEANOR_CACHE__SENTINELS=host:port,...` the client asks the Sentinels for the current
master of `ELEANOR_CACHE__SENTINEL_MASTER` (redis-py `Sentinel(...).master_for(...)`) on every
new connection, so a failover is followed without a restart. Without it, the client connects to
`ELEANOR_CACHE__REDIS_URL` directly (a single Redis, or a test's own server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

SENTINELS_ENV = "ELEANOR_CACHE__SENTINELS"
SENTINEL_MASTER_ENV = "ELEANOR_CACHE__SENTINEL_MASTER"
DEFAULT_SENTINEL_MASTER = "mymaster"

Address = tuple[str, int]


class CacheSettingsError(ValueError):
    """A cache environment variable holds a value the service cannot use."""


def parse_sentinels(raw: str | None) -> tuple[Address, ...]:
    """`"127.0.0.1:26379,127.0.0.1:26380"` -> ((host, port), ...); empty or None -> ()."""
    if raw is None or not raw.strip():
        return ()
    addresses: list[Address] = []
    for item in raw.split(","):
        text = item.strip()
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise CacheSettingsError(
                f"{SENTINELS_ENV}={raw!r}: {text!r} is not host:port; expected e.g. "
                "127.0.0.1:26379,127.0.0.1:26380"
            )
        addresses.append((host, int(port_text)))
    return tuple(addresses)


def sentinel_settings(env: Mapping[str, str]) -> tuple[tuple[Address, ...], str]:
    """The Sentinels and the master name from the environment (validated)."""
    sentinels = parse_sentinels(env.get(SENTINELS_ENV))
    master = (env.get(SENTINEL_MASTER_ENV) or DEFAULT_SENTINEL_MASTER).strip()
    if not master:
        raise CacheSettingsError(f"{SENTINEL_MASTER_ENV} is empty; expected e.g. mymaster")
    return sentinels, master


def connect_cache(
    url: str,
    *,
    sentinels: Sequence[Address],
    master_name: str,
    timeout_seconds: float,
) -> Redis:
    """A client of the cache's master: via Sentinel when Sentinels are configured, else `url`."""
    # One quick retry: a stale pooled connection after a restart or failover is retried once on
    # a fresh one (which, with Sentinel, asks for the current master), never more, so a dead
    # cache costs a request one timeout at most.
    if not sentinels:
        return Redis.from_url(
            url,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
    sentinel = Sentinel(
        list(sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": timeout_seconds,
            "socket_timeout": timeout_seconds,
        },
    )
    client: Redis = sentinel.master_for(
        master_name,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
    )
    return client
