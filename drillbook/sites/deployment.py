"""A two-site deployment of the embedded stack: what the quarterly full DR test drills.

    root namespace: runner, users (load, ledger, probes) -> front door 127.0.0.1:<port>
                    off-site store (S3) on the bridge's gateway address
    site "primary" (namespace): the full stack, PostgreSQL primary, WAL shipped off-site
    site "dr"      (namespace): the data services, PostgreSQL streaming from the primary across
                                the bridge; the application tier laid out but not started

Both sites use the same port numbers (each on its own loopback), so "127.0.0.1:<port>" through
the front door means "that service at the active site", as a DNS name would; the runbook of a
failover switches the front door. The users' view (`users_view`) is a LocalStack whose
addresses are the front door's, so the ledger, the load and the probes of the monthly drills
run unchanged against whichever site is active.

Everything is started fresh for each drill and removed completely afterwards (processes, data,
namespaces, links); `stop()` and the network watchdog (drillbook.sites.watchdog, for a runner
that dies) are the undo of a whole deployment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg

from drillbook.config.model import DrillbookConfig
from drillbook.config.sections.sites import SitesSettings
from drillbook.core.polling import poll_until
from drillbook.errors import StackError
from drillbook.platforms.local import LocalPlatform
from drillbook.platforms.ports import free_ports
from drillbook.sites.front_door import FrontDoor
from drillbook.sites.namespace import InNamespace
from drillbook.sites.network import SiteNetwork, create_network
from drillbook.sites.offsite import OffsiteStore
from drillbook.sites.services import (
    FRONT_DOOR_SOCKET,
    RECEIVER_NAME,
    STANDBY_NAME,
    FrontDoorService,
    GatewayService,
    NotStarted,
    OffsiteStoreService,
    StandbyPostgresService,
    WalReceiverService,
    WalShipperService,
)
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.local_stack import LocalStack, start_stack
from drillbook.stack.services import StackService
from drillbook.stack.services.app import AppService
from drillbook.stack.services.moto import MotoService
from drillbook.stack.services.openbao import OpenBaoService
from drillbook.stack.services.postgres import PostgresService, admin_dsn
from drillbook.stack.services.proxy import ProxyService
from drillbook.stack.services.redis import RedisService
from drillbook.stack.services.secrets_manager import SecretsManagerService
from drillbook.stack.services.weaviate import WeaviateService
from drillbook.stack.watchdog import process_start_ticks

log = logging.getLogger(__name__)

T = TypeVar("T")
_PORT_POOL = 80
"""Ports drawn in the root namespace: the sites' (shared) ones, the front door's, the store's."""


@dataclass
class Site:
    """One site: its namespace, its stack, and a thread that runs drillbook's code inside it."""

    name: str
    address: str
    namespace: str
    run_dir: Path
    inside: InNamespace
    stack: LocalStack | None = None

    def run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run `call` inside the site's namespace (its 127.0.0.1 is the site's loopback)."""
        return self.inside.run(call, *args, **kwargs)

    def require_stack(self) -> LocalStack:
        if self.stack is None:
            raise StackError(f"site {self.name} has no running stack (it was lost or not built)")
        return self.stack

    def platform(self) -> LocalPlatform:
        return self.require_stack().platform()


@dataclass
class TwoSites:
    """A running two-site deployment."""

    settings: SitesSettings
    config: DrillbookConfig
    run_dir: Path
    network: SiteNetwork
    region: LocalStack
    """The root namespace's processes: the off-site store and the front door."""
    sites: dict[str, Site]
    ports: dict[str, int]
    secrets: dict[str, str] = field(repr=False)
    offsite: OffsiteStore
    active: str
    """The site the front door sends users to."""
    dr_standby: bool = True
    configuration: dict[str, str | None] = field(default_factory=dict)
    """The application's configuration digest per site, taken when the site was built."""

    @property
    def primary(self) -> Site:
        return self.sites[self.settings.primary]

    @property
    def dr(self) -> Site:
        return self.sites[self.settings.dr]

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            raise StackError(
                f"no site named {name!r}; the sites are {sorted(self.sites)}"
            ) from None

    @property
    def front_door(self) -> FrontDoor:
        return FrontDoor(self.region.run_dir / FRONT_DOOR_SOCKET, list(self.sites))

    def switch_front_door(self, site: str) -> float:
        seconds = self.front_door.switch_to(site)
        self.active = site
        return seconds

    def users_view(self) -> LocalStack:
        """The stack as users reach it: the front door's addresses, the sites' secrets."""
        primary = self.primary.require_stack()
        return dataclasses.replace(
            primary,
            run_dir=self.run_dir,
            ports=dict(self.ports),
            supervisord_pid=self.region.supervisord_pid,
            owned=False,
        )

    def stop(self) -> list[int]:
        """Stop every process, remove every site's data and the network. Idempotent."""
        leftovers: list[int] = []
        for site in self.sites.values():
            if site.stack is not None:
                leftovers += stop_site_stack(site)
            site.inside.close()
        leftovers += self.region.stop(remove_run_dir=False)
        self.network.destroy()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        return leftovers


def app_configuration_digest(run_dir: Path) -> str | None:
    """sha256 of the application's deployed configuration at a site: its replicas' commands
    and environment as rendered from the drillbook configuration (which lives in version
    control), with the site's own run directory taken out; None when the site has none."""
    try:
        text = (run_dir / "supervisord.conf").read_text()
    except OSError:
        return None
    kept: list[str] = []
    keeping = False
    for line in text.splitlines():
        if line.startswith("["):
            keeping = line.startswith("[program:app-")
        if keeping:
            kept.append(line.replace(str(run_dir), "<run_dir>"))
    if not kept:
        return None
    return hashlib.sha256("\n".join(kept).encode()).hexdigest()


def stop_site_stack(site: Site) -> list[int]:
    stack = site.stack
    if stack is None:
        return []
    site.stack = None
    return stack.stop(remove_run_dir=False)


def primary_settings(settings: SitesSettings) -> dict[str, str]:
    """The primary's PostgreSQL settings beyond the one-site stack's."""
    values = {
        # A finished segment at least this often: what bounds the off-site copy's age.
        # Whole seconds, rounded down: "at least this often" must hold.
        "archive_timeout": f"{max(1, int(settings.archive_timeout_seconds))}s",
        # pg_rewind needs hint bits WAL-logged to rebuild an old primary from the new one.
        "wal_log_hints": "on",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "hot_standby": "on",
    }
    return values


def synchronous_standby(settings: SitesSettings, *, dr_standby: bool) -> str | None:
    """Which copy every commit waits for in "sync" mode: the warm standby, or, with a cold DR
    site, the off-site WAL receiver (None: asynchronous, or nothing streams off-site)."""
    if settings.replication != "sync":
        return None
    if dr_standby:
        return STANDBY_NAME
    return RECEIVER_NAME if settings.offsite == "continuous" else None


def enable_synchronous(primary: Site, standby: str, *, timeout: float = 60.0) -> None:
    """Make every commit wait until `standby` has flushed it (ALTER SYSTEM, so the setting is
    switched on only once the standby streams: before that, every commit would hang)."""
    dsn = admin_dsn(primary.require_stack().port("postgres"))

    def configure() -> None:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{standby}'")
            conn.execute("SELECT pg_reload_conf()")

    def sync_state() -> str | None:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                (standby,),
            ).fetchone()
        return None if row is None else str(row[0])

    primary.run(configure)
    poll_until(
        lambda: primary.run(sync_state),
        lambda state: state == "sync",
        timeout=timeout,
        interval=0.1,
        give_up=lambda state: StackError(
            f"the standby {standby} did not become synchronous within {timeout:.0f}s "
            f"(its state: {state or 'not connected'})"
        ),
    )


def site_services(
    *,
    role: str,
    address: str,
    primary_address: str,
    settings: SitesSettings,
    offsite: OffsiteStore,
    dr_standby: bool = True,
) -> list[StackService]:
    """A site's services: "primary" (everything running), "dr" (a warm standby: the data
    services running, PostgreSQL streaming from the primary, the application tier stopped) or
    "cold" (an empty site: PostgreSQL laid out, not started, for a restore from backup)."""
    postgres: StackService
    tail: list[StackService]
    pg_settings = primary_settings(settings)
    if role == "primary":
        postgres = PostgresService(pg_settings)
        tail = [AppService(), ProxyService()]
        if settings.offsite == "continuous":
            tail.append(WalShipperService(offsite, settings.ship_interval_seconds))
    elif role == "dr":
        postgres = StandbyPostgresService(primary_address, pg_settings)
        tail = [NotStarted(AppService()), NotStarted(ProxyService())]
    else:
        postgres = NotStarted(PostgresService(pg_settings))
        tail = [NotStarted(AppService()), NotStarted(ProxyService())]
    return [
        postgres,
        RedisService(),
        MotoService(),
        WeaviateService(),
        OpenBaoService(),
        SecretsManagerService(),
        *tail,
        GatewayService(address),
    ]


def start_two_sites(
    config: DrillbookConfig, *, run_dir: Path | None = None, dr_standby: bool = True
) -> TwoSites:
    """Build both sites, the off-site store and the front door; on failure remove it all.

    `dr_standby=False` leaves the DR site cold (no database running, no data): what Option B,
    restore from backup, rebuilds from the off-site store alone.
    """
    if os.geteuid() != 0:
        raise StackError(
            "the two-site deployment creates network namespaces, which needs root "
            "(CAP_NET_ADMIN and CAP_SYS_ADMIN); run the quarterly drills as root or in a "
            "container with those capabilities"
        )
    settings = config.sites
    run_id = secrets.token_hex(3)
    base = run_dir or Path(tempfile.mkdtemp(prefix=f"drillbook-sites-{run_id}-"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o711)
    pool = free_ports(_PORT_POOL)
    network = create_network(run_id, settings.subnet, [settings.primary, settings.dr])
    started: list[Callable[[], object]] = [network.destroy]
    try:
        _start_network_watchdog(run_id, base)
        sites = {
            name: Site(
                name=name,
                address=network.address(name),
                namespace=network.link(name).namespace,
                run_dir=base / name,
                inside=InNamespace(network.link(name).namespace),
            )
            for name in (settings.primary, settings.dr)
        }
        for site in sites.values():
            started.append(site.inside.close)
        primary, dr = sites[settings.primary], sites[settings.dr]
        region_pool = pool[:20]
        site_pool = pool[20:]
        store_port = region_pool.pop()
        offsite = OffsiteStore(
            endpoint_url=f"http://{network.gateway_address}:{store_port}",
            prefix=f"deployment-{run_id}",
        )
        primary.run_dir.mkdir()
        primary.stack = primary.run(
            start_stack,
            config,
            run_dir=primary.run_dir,
            services=site_services(
                role="primary",
                address=primary.address,
                primary_address=primary.address,
                settings=settings,
                offsite=offsite,
                dr_standby=dr_standby,
            ),
            port_pool=site_pool,
        )
        started.append(lambda: stop_site_stack(primary))
        ports = dict(primary.stack.ports)
        receiver = (
            [
                WalReceiverService(
                    postgres_bin_dir(config.stack.postgres_bin_dir),
                    primary.address,
                    primary.stack.port("postgres"),
                )
            ]
            if settings.offsite == "continuous"
            else []
        )
        # The region after the primary: the front door forwards the ports the primary took.
        # The primary's WAL shipper retries until the off-site store answers.
        region = start_stack(
            config,
            run_dir=base / "region",
            services=[
                OffsiteStoreService(network.gateway_address),
                *receiver,
                FrontDoorService(
                    ports, {name: site.address for name, site in sites.items()}, primary.name
                ),
            ],
            ports={"offsite-s3": store_port},
            port_pool=region_pool,
            wait_healthy=False,
        )
        started.append(lambda: region.stop(remove_run_dir=False))
        offsite.ensure_bucket()
        dr.run_dir.mkdir()
        dr.stack = dr.run(
            start_stack,
            config,
            run_dir=dr.run_dir,
            services=site_services(
                role="dr" if dr_standby else "cold",
                address=dr.address,
                primary_address=primary.address,
                settings=settings,
                offsite=offsite,
                dr_standby=dr_standby,
            ),
            ports=ports,
            port_pool=[],
            initial_secrets=primary.stack.secrets,
            wait_healthy=False,
        )
        started.append(lambda: stop_site_stack(dr))
        standby = synchronous_standby(settings, dr_standby=dr_standby)
        if standby is not None:
            enable_synchronous(primary, standby)
    except BaseException:
        for undo in reversed(started):
            with contextlib.suppress(Exception):
                undo()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return TwoSites(
        settings=settings,
        config=config,
        run_dir=base,
        network=network,
        region=region,
        sites=sites,
        ports=ports,
        secrets=dict(primary.stack.secrets),
        offsite=offsite,
        active=primary.name,
        dr_standby=dr_standby,
        configuration={
            name: app_configuration_digest(site.run_dir) for name, site in sites.items()
        },
    )


def _start_network_watchdog(run_id: str, run_dir: Path) -> None:
    """Remove the namespaces and links when this process dies without `stop()` (the sites'
    own watchdogs stop their processes)."""
    owner = os.getpid()
    start = process_start_ticks(owner)
    if start is None:
        return
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drillbook.sites.watchdog",
            str(owner),
            str(start),
            run_id,
            str(run_dir),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
