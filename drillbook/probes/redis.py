"""Observations of a Redis cache behind Sentinel: who is master, by whose account, and how hot.

Every call is bounded (short socket timeouts, no retries with backoff) so a dead node costs
one timeout, and every failure is an observation (an `error` field), never an exception: the
callers decide what a missing answer means.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from drillbook.config.model import CacheSettings
from drillbook.core.polling import poll_until
from drillbook.errors import InvalidDrill

DEFAULT_TIMEOUT_SECONDS = 0.5


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _client(address: str, timeout: float) -> redis.Redis:
    host, port = split_address(address)
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


@contextmanager
def connection(address: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Iterator[redis.Redis]:
    client = _client(address, timeout)
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class NodeState:
    """One Redis node as its own INFO describes it."""

    name: str
    address: str
    role: str | None = None
    """"master" or "slave"; None when the node did not answer."""
    master_address: str | None = None
    """For a replica: the master it follows ("host:port")."""
    link_up: bool | None = None
    """For a replica: whether its link to the master is up."""
    keyspace_hits: int | None = None
    keyspace_misses: int | None = None
    error: str | None = None

    @property
    def up(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CacheSnapshot:
    """What every Sentinel says the master is, and what every node says it is, at one moment."""

    at: float
    """Monotonic time the snapshot was started."""
    sentinel_masters: Mapping[str, str | None]
    """Sentinel address -> its `get-master-addr-by-name` answer ("host:port"), None if none."""
    nodes: Mapping[str, NodeState] = field(default_factory=dict)

    @property
    def masters(self) -> list[str]:
        """Names of the nodes that report role master (two or more: split brain)."""
        return sorted(n.name for n in self.nodes.values() if n.role == "master")

    @property
    def agreed_master(self) -> str | None:
        """The master address when every Sentinel answered and all name the same one."""
        answers = set(self.sentinel_masters.values())
        if len(answers) == 1 and None not in answers:
            return next(iter(answers))
        return None

    def node_at(self, address: str) -> NodeState | None:
        return next((n for n in self.nodes.values() if n.address == address), None)

    @property
    def roles(self) -> dict[str, str | None]:
        """Node name -> the role it reports (its error where it did not answer)."""
        return {n.name: n.role or n.error for n in self.nodes.values()}


def sentinel_master(address: str, master_name: str, timeout: float) -> str | None:
    """`SENTINEL get-master-addr-by-name` on one Sentinel; None when it has no answer."""
    try:
        with connection(address, timeout) as client:
            answer: Any = client.sentinel_get_master_addr_by_name(master_name)
    except redis.RedisError:
        return None
    if not answer:
        return None
    host, port = answer
    return f"{host}:{int(port)}"


def node_state(name: str, address: str, timeout: float) -> NodeState:
    try:
        with connection(address, timeout) as client:
            info: dict[str, Any] = client.info()
    except redis.RedisError as exc:
        return NodeState(name=name, address=address, error=f"{type(exc).__name__}: {exc}"[:200])
    role = str(info.get("role", "")) or None
    master = None
    link = None
    if role == "slave":
        master = f"{info.get('master_host')}:{info.get('master_port')}"
        link = info.get("master_link_status") == "up"
    return NodeState(
        name=name,
        address=address,
        role=role,
        master_address=master,
        link_up=link,
        keyspace_hits=int(info.get("keyspace_hits", 0)),
        keyspace_misses=int(info.get("keyspace_misses", 0)),
    )


def snapshot(settings: CacheSettings, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> CacheSnapshot:
    at = time.monotonic()
    masters = {s: sentinel_master(s, settings.master_name, timeout) for s in settings.sentinels}
    nodes = {name: node_state(name, addr, timeout) for name, addr in settings.nodes.items()}
    return CacheSnapshot(at=at, sentinel_masters=masters, nodes=nodes)


def require_sentinels(settings: CacheSettings) -> None:
    if not settings.sentinels or not settings.nodes:
        raise InvalidDrill(
            "the cache drill needs Redis Sentinel: list the Sentinels under [cache] sentinels "
            '(e.g. ["10.0.0.5:26379"]) and the cache pods under [cache.nodes] '
            '(e.g. redis-0 = "10.0.0.7:6379"); the embedded stack fills both in'
        )


@dataclass(frozen=True)
class CacheNode:
    """A data node of the cache, by its pod (replica) name and address."""

    name: str
    address: str


def node_named(settings: CacheSettings, address: str) -> CacheNode:
    for name, known in settings.nodes.items():
        if known == address:
            return CacheNode(name, address)
    raise InvalidDrill(
        f"the Sentinels name {address} as the master, which is none of the cache nodes "
        f"configured under [cache.nodes] ({dict(settings.nodes)}); list every pod there"
    )


def current_master(
    settings: CacheSettings, *, timeout: float = 10.0, poll_seconds: float = 0.1
) -> CacheNode:
    """The master every Sentinel agrees on, and that itself reports role master.

    Waits up to `timeout` for that to be true (a previous drill's returning master may still
    be rejoining); raises InvalidDrill otherwise: nothing has been injected yet.
    """
    require_sentinels(settings)

    def steady(seen: CacheSnapshot) -> bool:
        agreed = seen.agreed_master
        node = seen.node_at(agreed) if agreed else None
        replicas_linked = all(
            n.role == "slave" and n.link_up for n in seen.nodes.values() if n.address != agreed
        )
        return node is not None and node.role == "master" and replicas_linked

    def unsettled(last: CacheSnapshot) -> InvalidDrill:
        return InvalidDrill(
            f"the cache is not in a steady state before the fault: Sentinels say "
            f"{dict(last.sentinel_masters)}, nodes say "
            f"{last.roles}; "
            "nothing was injected. Wait for the cache to settle (or repair it) and rerun."
        )

    seen = poll_until(
        lambda: snapshot(settings),
        steady,
        timeout=timeout,
        interval=poll_seconds,
        give_up=unsettled,
    )
    return node_named(settings, seen.agreed_master or "")


def master_client(settings: CacheSettings, *, timeout: float = 1.0) -> redis.Redis:
    """A client of the master found through Sentinel, as the application finds it."""
    sentinel = Sentinel(
        [split_address(a) for a in settings.sentinels],
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
    )
    client: redis.Redis = sentinel.master_for(
        settings.master_name,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    return client
