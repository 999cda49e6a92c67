"""The `[sites]` table: the two-site deployment of the quarterly full DR test (embedded stack)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Choice, Context, Duration, Name, Text, build, setting

__all__ = ["SitesSettings", "parse"]


@dataclass(frozen=True)
class SitesSettings:
    """A primary and a DR site, each a full embedded stack in its own network namespace."""

    primary: str = field(
        default="primary",
        metadata=setting(Name(), "Name of the site users reach first (its namespace's suffix)."),
    )
    dr: str = field(
        default="dr",
        metadata=setting(Name(), "Name of the disaster-recovery site the runbook fails over to."),
    )
    subnet: str = field(
        default="10.213.0.0/24",
        metadata=setting(
            Text(),
            "Private range of the bridge joining the sites (first address: the runner's side, "
            "then one per site). It must not overlap any network of this machine.",
        ),
    )
    replication: str = field(
        default="async",
        metadata=setting(
            Choice(("async", "sync")),
            'PostgreSQL streaming replication primary -> DR: "async" (a commit returns once '
            'flushed locally), or "sync" (every commit, evidence included, waits until the DR '
            "copy has flushed it: no acknowledged write lost with the primary, at a cost in "
            "write latency; benchmarks/bench_replication.py measures it).",
        ),
    )
    archive_timeout_seconds: float = field(
        default=10.0,
        metadata=setting(
            Duration(),
            "PostgreSQL's archive_timeout on the primary: a WAL segment is archived (and then "
            "shipped off-site) at least this often. Keep it well below the RPO.",
            key="archive_timeout",
        ),
    )
    ship_interval_seconds: float = field(
        default=0.5,
        metadata=setting(
            Duration(),
            "How often the WAL shipper copies newly archived segments to the off-site store.",
            key="ship_interval",
        ),
    )
    offsite: str = field(
        default="continuous",
        metadata=setting(
            Choice(("continuous", "daily")),
            'What the off-site store receives: "continuous" (WAL shipped, base backups, '
            'Weaviate backups) or "daily" (the plan as written: only the daily pg_dump and '
            "Weaviate backup).",
        ),
    )


PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
"""RFC 1918 only: not the documentation, benchmarking or link-local ranges Python also calls
private, which other tools on this machine may use."""
MAX_SITE_NAME = 20
"""Site names become part of network namespace names (drillbook-<run id>-<site>)."""


def parse(context: Context, table: dict[str, Any]) -> SitesSettings:
    settings = build(context, "sites", table, SitesSettings)
    if settings.primary == settings.dr:
        context.fail("sites.dr", table.get("dr"), "a name other than sites.primary")
    for key in ("primary", "dr"):
        if len(getattr(settings, key)) > MAX_SITE_NAME:
            context.fail(
                f"sites.{key}", table.get(key), f"a name of at most {MAX_SITE_NAME} characters"
            )
    try:
        network = ipaddress.ip_network(settings.subnet, strict=True)
    except ValueError:
        context.fail(
            "sites.subnet",
            table.get("subnet"),
            "a private IPv4 network in CIDR form with no host bits set, e.g. 10.213.0.0/24",
        )
    if network.version != 4 or not any(network.subnet_of(r) for r in PRIVATE_RANGES):
        context.fail(
            "sites.subnet",
            table.get("subnet"),
            "a private IPv4 range (10/8, 172.16/12 or 192.168/16; not loopback): the sites' "
            "links must never use a routable address",
        )
    if network.prefixlen > 29:
        context.fail(
            "sites.subnet", table.get("subnet"), "a /29 or larger range (room for 3 hosts)"
        )
    if settings.archive_timeout_seconds < 1:
        context.fail("sites.archive_timeout", table.get("archive_timeout"), "at least 1s")
    return settings
