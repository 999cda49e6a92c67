"""The `[cache]` table: how drills reach the cache's Redis Sentinel (scenario 3, Option B)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import (
    Context,
    Duration,
    Kind,
    Name,
    build,
    name,
    setting,
    text_list,
)

__all__ = ["CacheSettings", "parse"]

_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
_POSITIVE = Duration(positive="a duration longer than 0")


def _host_port(context: Context, key: str, value: object) -> str:
    match = _HOST_PORT.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match["port"]) < 65536:
        context.fail(key, value, "an address host:port, e.g. '127.0.0.1:26379'")
    return str(value)


@dataclass(frozen=True)
class _Addresses(Kind):
    def parse(self, context: Context, key: str, value: object) -> tuple[str, ...]:
        addresses = text_list(context, key, value)
        for index, address in enumerate(addresses):
            _host_port(context, f"{key}[{index}]", address)
        return addresses

    def describe(self) -> str:
        return 'list of "host:port"'


@dataclass(frozen=True)
class _Nodes(Kind):
    def parse(self, context: Context, key: str, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            context.fail(key, value, 'a table of pod name = "host:port"')
        for node, address in value.items():
            name(context, f"{key}.{node}", node)
            _host_port(context, f"{key}.{node}", address)
        return dict(value)

    def describe(self) -> str:
        return 'table of name = "host:port"'


@dataclass(frozen=True)
class CacheSettings:
    """How drills reach the cache's Redis Sentinel (scenario 3, Option B)."""

    master_name: str = field(
        default="mymaster",
        metadata=setting(
            Name(),
            "The Sentinel master group (`SENTINEL get-master-addr-by-name <master_name>`).",
        ),
    )
    sentinels: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            _Addresses(),
            'Sentinel addresses "host:port"; empty on platform "local": the embedded stack '
            "fills them in.",
        ),
    )
    nodes: Mapping[str, str] = field(
        default_factory=dict,
        metadata=setting(
            _Nodes(),
            'Replica (pod) name of the cache component -> its "host:port", to tell which one is '
            "the master; filled in by the embedded stack.",
        ),
    )
    failover_timeout_seconds: float = field(
        default=30.0,
        metadata=setting(
            _POSITIVE,
            "How long the Sentinels may take to agree on a new master after the master is lost.",
            key="failover_timeout",
        ),
    )
    rejoin_timeout_seconds: float = field(
        default=60.0,
        metadata=setting(
            _POSITIVE,
            "How long a returning old master may stay a second master (split brain) before it "
            "must have rejoined as a replica.",
            key="rejoin_timeout",
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> CacheSettings:
    return build(context, "cache", table, CacheSettings)
