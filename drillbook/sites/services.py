"""What a site adds to the embedded stack's services, and the two processes outside the sites.

In a site (laid out by drillbook.stack.local_stack like any service):
- `GatewayService`: the site's address on the bridge, forwarding each port to the service on the
  site's loopback (laid out last: it forwards every port the others took);
- `WalShipperService` (primary): ships each archived WAL segment to the off-site store;
- `StandbyPostgresService` (DR): PostgreSQL as a streaming replica of the primary, its data
  copied over the inter-site link by pg_basebackup;
- `NotStarted`: a service laid out but left stopped (the DR site's application tier, which the
  failover runbook starts, as `kubectl apply -f k8s/dr/` would).

In the root namespace (the "region" supervisord): `OffsiteStoreService`, an S3 server on the
bridge's gateway address standing for another region, and `FrontDoorService`, the DNS / global
load balancer users reach.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.backup.cluster import as_server_user, chown_to_server_user, pg_tool
from drillbook.errors import StackError
from drillbook.platforms.local import LocalComponent
from drillbook.sites.front_door import render_front_door_conf
from drillbook.sites.gateway import render_site_gateway_conf
from drillbook.sites.offsite import OffsiteStore
from drillbook.stack.binaries import require_binary
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.base import StackContext, StackService
from drillbook.stack.services.postgres import WAL_ARCHIVE_DIR, PostgresService, init_cluster

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0
REPLICATION_SLOT = "dr_site"
STANDBY_NAME = "dr_site"
"""The DR standby's application_name: what synchronous_standby_names names in "sync" mode."""


class GatewayService:
    name = "gateway"

    def __init__(self, address: str) -> None:
        self.address = address

    def layout(self, ctx: StackContext) -> list[Program]:
        config = ctx.run_dir / "gateway.cfg"
        config.write_text(render_site_gateway_conf(self.address, dict(ctx.ports)))
        return [
            Program(
                group="gateway",
                name="gateway-0",
                command=[str(require_binary("haproxy")), "-f", str(config), "-db"],
                stopsignal="USR1",
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "gateway": LocalComponent(
                name="gateway", group="gateway", processes=["gateway-0"], desired=1, readiness={}
            )
        }

    def start(self, stack: LocalStack) -> None:
        stack.platform().start("gateway")


class WalShipperService:
    """Ships the primary's archived WAL to the off-site store, every `interval` seconds.

    The archive itself stays local (PostgreSQL's archive_command copies a finished segment into
    it, atomically); the shipper copies what is new to S3. A site loss then loses what was not
    yet shipped: up to archive_timeout + interval of writes, which is the RPO a drill measures.
    """

    name = "wal-shipper"

    def __init__(self, store: OffsiteStore, interval_seconds: float) -> None:
        self.store = store
        self.interval_seconds = interval_seconds

    def layout(self, ctx: StackContext) -> list[Program]:
        return [
            Program(
                group="wal-shipper",
                name="wal-shipper-0",
                command=[
                    sys.executable,
                    "-m",
                    "drillbook.sites.wal_shipper",
                    "--archive",
                    str(ctx.run_dir / WAL_ARCHIVE_DIR),
                    "--endpoint",
                    self.store.endpoint_url,
                    "--bucket",
                    self.store.bucket,
                    "--prefix",
                    self.store.prefix,
                    "--interval",
                    str(self.interval_seconds),
                    "--state",
                    str(ctx.run_dir / "wal-shipped.json"),
                ],
                environment={"PYTHONUNBUFFERED": "1"},
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "wal-shipper": LocalComponent(
                name="wal-shipper",
                group="wal-shipper",
                processes=["wal-shipper-0"],
                desired=1,
                readiness={},
            )
        }

    def start(self, stack: LocalStack) -> None:
        stack.platform().start("wal-shipper")


class StandbyPostgresService(PostgresService):
    """The DR site's PostgreSQL: a hot standby streaming from the primary across the link."""

    def __init__(self, primary_host: str, settings: dict[str, str] | None = None) -> None:
        super().__init__(settings)
        self.primary_host = primary_host

    def prepare_data(self, ctx: StackContext, pg_bin: Path) -> str | None:
        port = ctx.take_port("postgres")  # the same number as the primary's (shared ports)
        user = init_cluster(pg_bin, ctx.run_dir, data_dir=ctx.run_dir / "pgdata-initdb")
        # init_cluster made the socket directory and checked the run directory; its cluster is
        # not used: the standby's data is the primary's, copied by pg_basebackup.
        shutil.rmtree(ctx.run_dir / "pgdata-initdb", ignore_errors=True)
        data = ctx.run_dir / "pgdata"
        if data.exists():
            shutil.rmtree(data)
        data.parent.mkdir(parents=True, exist_ok=True)
        chown_to_server_user(ctx.run_dir)
        copy_from_primary(pg_bin, self.primary_host, port, data)
        conninfo = standby_conninfo(self.primary_host, port)
        self.settings.update(
            {
                "primary_conninfo": conninfo,
                "primary_slot_name": REPLICATION_SLOT,
                "hot_standby": "on",
            }
        )
        (data / "standby.signal").touch()
        chown_to_server_user(data / "standby.signal")
        return user


def standby_conninfo(primary_host: str, port: int) -> str:
    return (
        f"host={primary_host} port={port} user=postgres application_name={STANDBY_NAME} "
        "connect_timeout=2 keepalives_idle=5 keepalives_interval=2 keepalives_count=2"
    )


def copy_from_primary(pg_bin: Path, primary_host: str, port: int, data: Path) -> None:
    """pg_basebackup over the inter-site link, creating the standby's replication slot (so the
    primary keeps the WAL the standby has not received)."""
    result = subprocess.run(
        as_server_user(
            [
                str(pg_tool(pg_bin, "pg_basebackup")),
                "-h",
                primary_host,
                "-p",
                str(port),
                "-U",
                "postgres",
                "-D",
                str(data),
                "-Fp",
                "-Xs",
                "-c",
                "fast",
                "-C",
                "-S",
                REPLICATION_SLOT,
                "--no-password",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"pg_basebackup from the primary site ({primary_host}:{port}) failed "
            f"({result.returncode}): {result.stderr.strip()[-600:]}"
        )


class NotStarted:
    """A service laid out (its programs declared) but not started with the stack."""

    def __init__(self, service: StackService) -> None:
        self.service = service
        self.name = service.name

    def layout(self, ctx: StackContext) -> list[Program]:
        return self.service.layout(ctx)

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return self.service.components(stack)

    def start(self, stack: LocalStack) -> None:
        """Nothing: the runbook starts it."""


class OffsiteStoreService:
    """moto's S3 on the bridge's gateway address: reachable from every site and the runner,
    in no site (it survives the loss of either)."""

    name = "offsite-store"

    def __init__(self, address: str) -> None:
        self.address = address

    def layout(self, ctx: StackContext) -> list[Program]:
        port = ctx.take_port("offsite-s3")
        moto = require_binary("moto_server", first=[Path(sys.executable).parent])
        return [
            Program(
                group="offsite-store",
                name="offsite-s3-0",
                command=[str(moto), "-H", self.address, "-p", str(port)],
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        url = f"http://{self.address}:{stack.port('offsite-s3')}"
        return {
            "offsite-store": LocalComponent(
                name="offsite-store",
                group="offsite-store",
                processes=["offsite-s3-0"],
                desired=1,
                readiness={"offsite-s3-0": http_ready(f"{url}/moto-api/")},
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("offsite-store")
        platform.wait_until_ready("offsite-store", timeout=START_TIMEOUT_SECONDS)


RECEIVER_NAME = "offsite_wal"
"""The off-site WAL receiver's application_name and replication slot."""
RECEIVER_DIR = "offsite-wal"


def receiver_conninfo(primary_host: str, port: int) -> str:
    return (
        f"host={primary_host} port={port} user=postgres application_name={RECEIVER_NAME} "
        "connect_timeout=2"
    )


class WalReceiverService:
    """pg_receivewal in the region, streaming the primary's WAL as it is written.

    Where the WAL shipper copies finished segments (so an off-site copy is up to archive_timeout
    old), the receiver holds every commit the primary has sent; named in
    synchronous_standby_names (replication "sync" with a cold DR site) it holds every
    acknowledged commit: a restore from the off-site store then loses no acknowledged evidence.
    """

    name = "offsite-wal"

    def __init__(self, pg_bin: Path, primary_host: str, primary_port: int) -> None:
        self.pg_bin = pg_bin
        self.conninfo = receiver_conninfo(primary_host, primary_port)

    def layout(self, ctx: StackContext) -> list[Program]:
        directory = ctx.run_dir / RECEIVER_DIR
        directory.mkdir(mode=0o700, exist_ok=True)
        return [
            Program(
                group="offsite-wal",
                name="offsite-wal-0",
                command=[
                    str(pg_tool(self.pg_bin, "pg_receivewal")),
                    "-D",
                    str(directory),
                    "-S",
                    RECEIVER_NAME,
                    "--synchronous",
                    "--no-password",
                    "-d",
                    self.conninfo,
                ],
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "offsite-wal": LocalComponent(
                name="offsite-wal",
                group="offsite-wal",
                processes=["offsite-wal-0"],
                desired=1,
                readiness={},
            )
        }

    def start(self, stack: LocalStack) -> None:
        result = subprocess.run(
            [
                str(pg_tool(self.pg_bin, "pg_receivewal")),
                "--create-slot",
                "--if-not-exists",
                "-S",
                RECEIVER_NAME,
                "--no-password",
                "-d",
                self.conninfo,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"could not create the off-site WAL receiver's replication slot "
                f"({result.returncode}): {result.stderr.strip()[-400:]}"
            )
        stack.platform().start("offsite-wal")


FRONT_DOOR_SOCKET = "front-door.sock"


class FrontDoorService:
    """The front door: every site port on the root namespace's 127.0.0.1, routed to one site."""

    name = "front-door"

    def __init__(self, ports: dict[str, int], sites: dict[str, str], active: str) -> None:
        self.ports = ports
        self.sites = sites
        self.active = active

    def layout(self, ctx: StackContext) -> list[Program]:
        config = ctx.run_dir / "front-door.cfg"
        config.write_text(
            render_front_door_conf(
                self.ports, self.sites, self.active, ctx.run_dir / FRONT_DOOR_SOCKET
            )
        )
        return [
            Program(
                group="front-door",
                name="front-door-0",
                command=[str(require_binary("haproxy")), "-f", str(config), "-db"],
                stopsignal="USR1",
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "front-door": LocalComponent(
                name="front-door",
                group="front-door",
                processes=["front-door-0"],
                desired=1,
                readiness={"front-door-0": lambda: (stack.run_dir / FRONT_DOOR_SOCKET).exists()},
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("front-door")
        platform.wait_until_ready("front-door", timeout=START_TIMEOUT_SECONDS)
