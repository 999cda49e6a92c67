"""The plan's recovery actions for scenario 6, Complete Infrastructure Failure, on two sites.

Option A, fail over to the DR site::

    kubectl config use-context dr-cluster
    kubectl apply -f k8s/dr/
    kubectl get pods -n eleanor-v8

as steps: fence the old primary, promote the DR database (a new timeline), restore Weaviate at
DR from the newest off-site backup, start the application at DR (its secrets from DR's own
replica of the secrets store), switch the front door (DNS).

Option B, restore from backup::

    terraform apply -var-file=dr.tfvars
    ./scripts/restore_all.sh --backup=latest
    kubectl apply -f k8s/production/

as steps: rebuild the DR site's database from the off-site store only (newest base backup + every
WAL segment shipped), Weaviate from its off-site backup, then the same start and switch.

Failback: rebuild the old primary from the DR site (a fresh base backup across the link),
then a planned switchover: drain the front door, stop writes, let the old primary catch up,
promote it, move Weaviate's data back, start the application there, switch the front door.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg

from drillbook.backup.cluster import as_server_user, chown_to_server_user, pg_tool
from drillbook.backup.errors import BackupError
from drillbook.backup.weaviate import S3BackupStore, create_backup, restore_backup
from drillbook.core.steps import RecoveryStep
from drillbook.errors import StackError
from drillbook.scenarios.sites.replication import promote, wait_caught_up
from drillbook.sites.deployment import Site, TwoSites, site_services, stop_site_stack
from drillbook.sites.services import RECEIVER_DIR
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.local_stack import start_stack
from drillbook.stack.services.postgres import admin_dsn, create_database
from drillbook.stack.services.weaviate import COLLECTION, endpoint

READY_TIMEOUT_SECONDS = 120.0
WAL_RESTORE_DIR = "restore-wal"


# --------------------------------------------------------------------------- off-site copies
def weaviate_store(deployment: TwoSites) -> S3BackupStore:
    return S3BackupStore(
        deployment.offsite.client(),
        bucket=deployment.offsite.bucket,
        prefix=f"{deployment.offsite.prefix}/weaviate/",
    )


def take_offsite_backups(deployment: TwoSites, *, database: bool = True) -> dict[str, Any]:
    """The scheduled backups into the off-site store: Weaviate's, and the database's (a base
    backup when WAL is shipped continuously; the plan's daily pg_dump when it is not)."""
    source = deployment.site(deployment.active)
    stack = source.require_stack()
    figures: dict[str, Any] = {}
    started = time.monotonic()
    result = source.run(
        create_backup,
        endpoint(stack),
        weaviate_store(deployment),
        export_root=stack.run_dir / "weaviate-exports",
    )
    figures["weaviate_backup"] = result.backup.backup_id
    figures["weaviate_backup_seconds"] = round(time.monotonic() - started, 3)
    if database:
        started = time.monotonic()
        if deployment.settings.offsite == "continuous":
            figures["base_backup"] = source.run(_ship_base_backup, deployment, source)
        else:
            figures["daily_dump"] = source.run(_ship_dump, deployment, source)
        figures["database_backup_seconds"] = round(time.monotonic() - started, 3)
    return figures


def _pg_client(deployment: TwoSites, site: Site, tool: str, *args: str) -> list[str]:
    """A PostgreSQL client tool's command against the site's server (run inside the site)."""
    pg_bin = postgres_bin_dir(deployment.config.stack.postgres_bin_dir)
    port = str(site.require_stack().port("postgres"))
    return [str(pg_tool(pg_bin, tool)), "-h", "127.0.0.1", "-p", port, "-U", "postgres", *args]


def _ship_base_backup(deployment: TwoSites, site: Site) -> str:
    stack = site.require_stack()
    label = time.strftime("base-%Y%m%d-%H%M%S", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="drillbook-base-", dir=stack.run_dir) as scratch:
        target = Path(scratch) / label
        chown_to_server_user(Path(scratch))
        _run(
            as_server_user(
                _pg_client(
                    deployment,
                    site,
                    "pg_basebackup",
                    *("-D", str(target), "-Ft", "-X", "fetch", "-c", "fast", "--no-password"),
                )
            ),
            "pg_basebackup for the off-site store",
        )
        deployment.offsite.upload_base_backup(target, label)
    return label


DUMP_KEY = "dumps"


def _ship_dump(deployment: TwoSites, site: Site) -> str:
    name = time.strftime("eleanor-v8-%Y%m%d-%H%M%S.dump", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="drillbook-dump-") as scratch:
        path = Path(scratch) / name
        _run(
            _pg_client(deployment, site, "pg_dump", "-Fc", "-f", str(path), "eleanor_v8"),
            "the daily pg_dump",
        )
        deployment.offsite.upload_file(path, f"{DUMP_KEY}/{name}")
    return name


# --------------------------------------------------------------------------- steps
def fence_site(deployment: TwoSites, site: str) -> RecoveryStep:
    """STONITH: make sure the old primary can acknowledge no write, before anything else is
    promoted. Its application and database are killed (SIGKILL: a power-off, not a graceful
    stop, which a partitioned server would spend its shutdown timeout on, waiting to send WAL
    to standbys it cannot reach) through its management plane (the supervisor socket:
    out-of-band, it needs no network)."""

    def run() -> Mapping[str, Any]:
        target = deployment.site(site)
        if target.stack is None:
            return {"fenced": site, "state": "already gone (nothing left running)"}
        platform = target.platform()
        killed: dict[str, int] = {}
        for component in ("proxy", "app", "database"):
            running = [r for r in platform.replicas(component) if r.running]
            if running:
                killed[component] = len(platform.kill(component, count="all"))
        return {"fenced": site, "killed": killed}

    return RecoveryStep(
        name=f"fence site {site}",
        command=f"# STONITH: power off eleanor-v8 and postgres at {site} out of band",
        run=run,
    )


def promote_database(deployment: TwoSites, site: str) -> RecoveryStep:
    def run() -> Mapping[str, Any]:
        return promote(deployment.site(site), timeout=READY_TIMEOUT_SECONDS)

    return RecoveryStep(
        name=f"promote the database at {site}",
        command=f"kubectl --context {site} exec postgres-0 -- psql -c 'SELECT pg_promote()'",
        run=run,
    )


def restore_database_from_offsite(deployment: TwoSites, site: str) -> RecoveryStep:
    """Option B: the site's database rebuilt from the off-site store only: the newest complete
    base backup, then every WAL segment shipped, replayed to the end and promoted."""

    def run() -> Mapping[str, Any]:
        target = deployment.site(site)
        return target.run(_restore_from_offsite, deployment, target)

    return RecoveryStep(
        name=f"restore the database at {site} from the off-site store",
        command="./scripts/restore_all.sh --backup=latest  # base backup + WAL to the last "
        "archived segment",
        run=run,
    )


def _restore_from_offsite(deployment: TwoSites, site: Site) -> dict[str, Any]:
    stack = site.require_stack()
    platform = stack.platform()
    platform.stop("database")
    data = stack.run_dir / "pgdata"
    wal_dir = stack.run_dir / WAL_RESTORE_DIR
    started = time.monotonic()
    backup = deployment.offsite.newest_base_backup()
    with tempfile.TemporaryDirectory(prefix="drillbook-restore-") as scratch:
        local = deployment.offsite.download_base_backup(backup, Path(scratch) / backup.label)
        _replace_dir(data)
        with tarfile.open(local / "base.tar") as archive:
            archive.extractall(data, filter="fully_trusted")
    wal_dir.mkdir(exist_ok=True)
    segments = deployment.offsite.fetch_all_wal(wal_dir)
    streamed = _add_streamed_wal(deployment.region.run_dir / RECEIVER_DIR, wal_dir)
    (data / "recovery.signal").touch()
    with open(data / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
        # Replay everything shipped, on the newest timeline, then promote (no target given).
        conf.write(f"restore_command = 'cp {wal_dir}/%f %p'\n")
        conf.write("recovery_target_timeline = 'latest'\n")
        # The lost primary waited for a synchronous copy; the rebuilt site has none (yet):
        # keeping the setting would make every commit wait forever.
        conf.write("synchronous_standby_names = ''\n")
    chown_to_server_user(data)
    _chown_tree(data)
    _chown_tree(wal_dir)
    platform.start("database")
    platform.wait_until_ready("database", timeout=READY_TIMEOUT_SECONDS)
    _wait_promoted(admin_dsn(stack.port("postgres")))
    return {
        "base_backup": backup.label,
        "base_backup_taken_at": backup.taken_at.isoformat(),
        "wal_files_from_s3": len(segments),
        "wal_files_from_receiver": streamed,
        "seconds": round(time.monotonic() - started, 3),
    }


def restore_database_from_dump(deployment: TwoSites, site: str) -> RecoveryStep:
    """The plan as written: the newest daily pg_dump from the off-site store, loaded into the
    site's empty database (everything written after the dump is gone with the primary)."""

    def run() -> Mapping[str, Any]:
        target = deployment.site(site)
        return target.run(_restore_dump, deployment, target)

    return RecoveryStep(
        name=f"restore the database at {site} from the daily dump",
        command="./scripts/restore_database.sh --backup=latest  # the daily pg_dump",
        run=run,
    )


def _restore_dump(deployment: TwoSites, site: Site) -> dict[str, Any]:
    stack = site.require_stack()
    platform = stack.platform()
    started = time.monotonic()
    keys = sorted(deployment.offsite.keys(f"{DUMP_KEY}/"))
    if not keys:
        raise BackupError(f"no daily dump in the off-site store ({deployment.offsite.where})")
    platform.start("database")
    platform.wait_until_ready("database", timeout=READY_TIMEOUT_SECONDS)
    create_database(admin_dsn(stack.port("postgres")))
    with tempfile.TemporaryDirectory(prefix="drillbook-dump-") as scratch:
        local = deployment.offsite.download_file(keys[-1], Path(scratch) / "latest.dump")
        _run(
            _pg_client(
                deployment, site, "pg_restore", "-d", "eleanor_v8", "--exit-on-error", str(local)
            ),
            "pg_restore of the daily dump",
        )
    return {"dump": keys[-1].rsplit("/", 1)[-1], "seconds": round(time.monotonic() - started, 3)}


def _add_streamed_wal(receiver: Path, wal_dir: Path) -> list[str]:
    """The off-site WAL receiver's files that S3 does not hold: the newest segments, and the
    one being written (`.partial`, under its segment name: recovery stops where its valid
    records end). With the receiver synchronous, these hold every acknowledged commit."""
    added: list[str] = []
    if not receiver.is_dir():
        return added
    for path in sorted(receiver.iterdir()):
        name = path.name.removesuffix(".partial")
        if not path.is_file() or (wal_dir / name).exists():
            continue
        shutil.copyfile(path, wal_dir / name)
        added.append(path.name)
    return added


def restore_vector_store(deployment: TwoSites, site: str) -> RecoveryStep:
    """Weaviate at the site from the newest off-site backup (its empty collection, made when the
    site was built, is removed first: a restore never overwrites a collection with data)."""

    def run() -> Mapping[str, Any]:
        target = deployment.site(site)

        def restore() -> dict[str, Any]:
            where = endpoint(target.require_stack())
            _drop_if_empty(where.url)
            result = restore_backup(where, weaviate_store(deployment))
            return {
                "backup": result.backup.backup_id,
                "backup_age_seconds": round(result.age_seconds, 3),
                "seconds": round(result.seconds, 3),
            }

        return target.run(restore)

    return RecoveryStep(
        name=f"restore Weaviate at {site} from the off-site backup",
        command="./scripts/restore_weaviate.sh --backup=latest",
        run=run,
    )


def start_application(deployment: TwoSites, site: str) -> RecoveryStep:
    def run() -> Mapping[str, Any]:
        target = deployment.site(site)

        def start() -> dict[str, Any]:
            platform = target.platform()
            started = time.monotonic()
            platform.start("app")
            platform.wait_until_ready("app", timeout=READY_TIMEOUT_SECONDS)
            platform.start("proxy")
            platform.wait_until_ready("proxy", timeout=READY_TIMEOUT_SECONDS)
            return {"ready_after_seconds": round(time.monotonic() - started, 3)}

        return target.run(start)

    return RecoveryStep(
        name=f"start the application at {site}",
        command=f"kubectl --context {site} apply -f k8s/dr/ && kubectl get pods -n eleanor-v8",
        run=run,
    )


def switch_front_door(deployment: TwoSites, site: str) -> RecoveryStep:
    def run() -> Mapping[str, Any]:
        seconds = deployment.switch_front_door(site)
        return {"active": site, "switch_seconds": round(seconds, 4)}

    return RecoveryStep(
        name=f"switch the front door to {site}",
        command=f"# DNS / global load balancer: eleanor.example -> {site}",
        run=run,
    )


def fail_over(deployment: TwoSites, *, to: str, fence: str | None) -> list[RecoveryStep]:
    """Option A as steps; `fence` the old primary first when it may still be running."""
    fencing = [fence_site(deployment, fence)] if fence else []
    return [
        *fencing,
        promote_database(deployment, to),
        restore_vector_store(deployment, to),
        start_application(deployment, to),
        switch_front_door(deployment, to),
    ]


def restore_site_from_backup(deployment: TwoSites, *, to: str) -> list[RecoveryStep]:
    """Option B as steps."""
    return [
        restore_database_from_offsite(deployment, to),
        restore_vector_store(deployment, to),
        start_application(deployment, to),
        switch_front_door(deployment, to),
    ]


# --------------------------------------------------------------------------- failback
def rebuild_site_as_standby(deployment: TwoSites, site: str, *, source: str) -> dict[str, Any]:
    """The lost site built again from nothing, its database a standby of `source` (a fresh
    base backup across the link), its application laid out but not started."""
    target = deployment.site(site)
    origin = deployment.site(source)
    stop_site_stack(target)
    deployment.network.reconnect(site)
    target.run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    target.stack = target.run(
        start_stack,
        deployment.config,
        run_dir=target.run_dir,
        services=site_services(
            role="dr",
            address=target.address,
            primary_address=origin.address,
            settings=deployment.settings,
            offsite=deployment.offsite,
        ),
        ports=deployment.ports,
        port_pool=[],
        initial_secrets=deployment.secrets,
        wait_healthy=False,
    )
    return {"rebuilt": site, "from": source, "seconds": round(time.monotonic() - started, 3)}


def switch_back(deployment: TwoSites, *, to: str) -> dict[str, Any]:
    """The planned switchover to `to` (a caught-up standby): users see a short outage."""
    current = deployment.site(deployment.active)
    target = deployment.site(to)
    figures: dict[str, Any] = {}
    started = time.monotonic()
    deployment.front_door.drain()
    current_platform = current.platform()
    for component in ("proxy", "app"):
        current.run(current_platform.stop, component)
    figures["writes_stopped_after_seconds"] = round(time.monotonic() - started, 3)
    figures["catch_up"] = wait_caught_up(current, target, timeout=READY_TIMEOUT_SECONDS)
    figures["promote"] = promote(target, timeout=READY_TIMEOUT_SECONDS)
    backup = current.run(
        create_backup,
        endpoint(current.require_stack()),
        weaviate_store(deployment),
        export_root=current.require_stack().run_dir / "weaviate-exports",
    )
    figures["weaviate_moved"] = backup.backup.backup_id
    restore_vector_store(deployment, to).run()
    start_application(deployment, to).run()
    figures["switch_seconds"] = deployment.switch_front_door(to)
    # The old DR site's database is now behind a new timeline: it no longer serves anyone.
    current.run(current_platform.stop, "database")
    figures["seconds"] = round(time.monotonic() - started, 3)
    return figures


# --------------------------------------------------------------------------- helpers
def _drop_if_empty(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        schema = client.get(f"/v1/schema/{COLLECTION}")
        if schema.status_code != 200:
            return
        objects = client.get("/v1/objects", params={"class": COLLECTION, "limit": 1})
        if objects.status_code != 200:
            raise StackError(f"Weaviate at {url}: cannot list {COLLECTION}: {objects.text[:200]}")
        if objects.json().get("objects"):
            raise StackError(
                f"Weaviate at {url} already holds {COLLECTION} objects: a restore would "
                "overwrite them; nothing was changed"
            )
        client.delete(f"/v1/schema/{COLLECTION}")


def _replace_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)


def _chown_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        chown_to_server_user(path)


def _wait_promoted(dsn: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
        except psycopg.Error:
            pass
        if time.monotonic() >= deadline:
            raise StackError(f"the restored database did not finish recovery in {timeout:.0f}s")
        time.sleep(0.1)


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({result.returncode}): {result.stderr.strip()[-600:]}")
