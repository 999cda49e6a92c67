"""Database backups of a Compose project's PostgreSQL (platform docker): the plan's daily
`pg_dump | gzip` to S3 and its restore into a recreated volume.

    backups = compose_backups(platform, config, state_dir)
    backups.take_dump()         # pg_dump through the published port -> the project's S3
    backups.restore("latest")   # volume removed and created empty, the dump loaded into it
    backups.check_newest_restores()   # the restore test, in a scratch database of the live one

The dump and the restore test need only a connection (PostgreSQL's published port, this
machine's client tools at the server's major version or newer). A restore cannot build in a
scratch directory beside the live one and swap as on the embedded stack: the data directory is
a named volume. So the dump is fetched and verified (sha256, gzip) first, then the service's
containers are removed with their volume, the volume is created again, the service's image runs
alone on it out of the application's reach (drillbook.platforms.docker_scratch: its entrypoint
initializes the empty volume, role and database) while the dump is loaded in one transaction,
and only then Compose creates the service's containers on it: the application never writes into
the empty database (its schema there would make the dump fail to load, its writes be lost).

Point-in-time recovery (base backups from pg_basebackup through the published port, the WAL
the server archives into a volume of its own) is drillbook.backup.compose_pitr's; refused,
saying why, for a service that mounts no WAL archive volume.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from drillbook.backup.cluster import remove_tree
from drillbook.backup.compose_volumes import postgres_volumes
from drillbook.backup.dump import load_dump
from drillbook.backup.errors import BackupError, RestoreFailed
from drillbook.backup.local import DatabaseBackups
from drillbook.backup.restore import (
    Inspection,
    LocalDatabase,
    RestoreResult,
    inspect_evidence,
)
from drillbook.backup.store import BackupStore
from drillbook.config.model import DrillbookConfig
from drillbook.engine.lock import TargetLock
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_engine import connect, engine_address
from drillbook.platforms.docker_project import docker_platform, journal_path
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.services.moto import aws_env
from drillbook.stack.services.postgres import DATABASE_NAME, DATABASE_USER

S3_SERVICE = "s3"
"""The Compose service that plays S3 for the project (moto), when [backup] endpoint_url is
not set."""
POSTGRES_PORT = "5432/tcp"
S3_PORT = "5000/tcp"
READY_TIMEOUT_SECONDS = 180.0
"""A recreated volume: initdb, the role and database, then the server's start."""


def published_port(container: Any, port: str) -> int:
    """The host port the engine publishes the container's `port` on."""
    container.reload()
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(port) or []
    # A stopped container publishes nothing; the port it is declared with is in HostConfig.
    bindings += (container.attrs.get("HostConfig", {}).get("PortBindings") or {}).get(port) or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    raise InvalidDrill(
        f"container {container.name} publishes no host port for {port}: drillbook reaches "
        "PostgreSQL and S3 of a Compose project through their published ports (ports: in the "
        "Compose file)"
    )


def database_component(config: DrillbookConfig) -> str:
    for name, component in config.target.components.items():
        if component.role == "database":
            return name
    raise InvalidDrill(f"{config.source} configures no component with role 'database'")


@dataclass
class VolumeRestore:
    """Where a Compose service keeps its data: the one named volume its containers mount."""

    platform: DockerPlatform
    component: str

    def volume(self) -> str:
        """The data volume (its WAL archive, if it has one, is kept: drillbook.backup.
        compose_volumes)."""
        containers = self.platform.containers(self.component)
        try:
            return postgres_volumes(self.component, containers).data.name
        except InvalidDrill as exc:
            raise BackupError(str(exc)) from None

    def restore_dump(
        self, db: LocalDatabase, dump: Path, *, name: str, backup: dict[str, Any]
    ) -> RestoreResult:
        """The volume recreated empty and the dump loaded into it before the service's own
        containers start on it (see the module's note)."""
        volume = self.volume()
        started = time.monotonic()
        inspected: list[Inspection] = []

        def fill(port: int) -> None:
            loading = replace(db, port=port)
            _wait_accepting(loading.dsn(), timeout=READY_TIMEOUT_SECONDS)
            load_dump(
                db.pg_bin,
                dump,
                name=name,
                host="127.0.0.1",
                port=port,
                user=DATABASE_USER,
                database=DATABASE_NAME,
            )
            inspected.append(inspect_evidence(loading.dsn(), db.records_table))

        self.platform.refill_volume(self.component, volume, port=POSTGRES_PORT, fill=fill)
        loaded = time.monotonic() - started
        # The loaded dump is a new cluster: the base backups belong to the one it replaced
        # (PITR from them would go back to that cluster), so they are retired, as on the
        # embedded stack. Its WAL stays in the archive volume, in that cluster's own folder.
        # Only the last replaced cluster's are kept: this folder outlives every run.
        if db.base_dir.exists():
            for older in (db.run_dir / "backups").glob("retired-*"):
                remove_tree(older)
            retired = db.run_dir / "backups" / f"retired-{time.strftime('%Y%m%d-%H%M%S')}"
            retired.mkdir(parents=True, exist_ok=True)
            db.base_dir.rename(retired / db.base_dir.name)
        try:
            self.platform.wait_until_ready(self.component, timeout=READY_TIMEOUT_SECONDS)
        except Exception as exc:
            raise RestoreFailed(
                f"'{self.component}' did not start on the restored volume: {exc}"
            ) from None
        (inspection,) = inspected
        return RestoreResult(
            mode="dump",
            backup=backup,
            target=None,
            evidence_rows=inspection.evidence_rows,
            chain=inspection.chain,
            build_seconds=loaded,
            swap_seconds=time.monotonic() - started - loaded,
            notes=(f"restored into a recreated volume {volume}", *inspection.notes),
            table=inspection.table,
        )


def _wait_accepting(dsn: str, *, timeout: float) -> None:
    """Until the server takes connections over TCP (its image initializes a new volume on a
    socket only, then listens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=3):
                return
        except psycopg.Error as exc:
            if time.monotonic() >= deadline:
                raise RestoreFailed(
                    f"the recreated volume's server took no connection in {timeout:.0f}s: {exc}"
                ) from None
        time.sleep(0.2)


def compose_s3_env(platform: DockerPlatform, config: DrillbookConfig) -> dict[str, str]:
    """The AWS_* settings of the S3 that backups of the project go to: [backup] endpoint_url
    and region with the ambient AWS credentials (boto3's own chain), else the project's own S3
    service (moto, any credentials) at its published port."""
    if config.backup.endpoint_url:
        return {
            "AWS_ENDPOINT_URL": config.backup.endpoint_url,
            "AWS_DEFAULT_REGION": config.backup.region,
        }
    found = platform.service_containers(S3_SERVICE)
    running = [c for c in found if c.attrs.get("State", {}).get("Running")]
    if not running:
        raise InvalidDrill(
            f"the Compose project has no running '{S3_SERVICE}' service for the backups and "
            "[backup] endpoint_url is not set: name your S3 endpoint there"
        )
    return aws_env(published_port(running[0], S3_PORT))


def compose_store(platform: DockerPlatform, config: DrillbookConfig) -> BackupStore:
    """[backup] endpoint_url with the ambient AWS credentials, else the project's own S3
    service (moto: any credentials, the bucket created on first use, as on the stack)."""
    if config.backup.endpoint_url:
        return BackupStore(config.backup)
    s3 = compose_s3_env(platform, config)
    return BackupStore(
        config.backup,
        endpoint_url=s3["AWS_ENDPOINT_URL"],
        credentials=s3,
        create_bucket=True,
    )


def compose_database(
    platform: DockerPlatform, config: DrillbookConfig, state_dir: Path
) -> LocalDatabase:
    """The project's PostgreSQL as the dump and restore code reaches it: its published port,
    this machine's client tools, `state_dir`/backups/work for dumps on their way to and from
    S3."""
    component = database_component(config)
    running = [c for c in platform.containers(component) if c.attrs.get("State", {}).get("Running")]
    containers = running or platform.containers(component)
    if not containers:
        raise InvalidDrill(f"the Compose service of '{component}' has no container")
    return LocalDatabase(
        pg_bin=postgres_bin_dir(config.stack.postgres_bin_dir),
        run_dir=state_dir,
        port=published_port(containers[0], POSTGRES_PORT),
        platform=platform,
        component=component,
        ready_timeout_seconds=READY_TIMEOUT_SECONDS,
        records_table=config.ledger.table,
    )


def state_dir(platform: DockerPlatform) -> Path:
    """Where dumps pass through and a damaged file's original is kept during a drill: the
    folder of the project's undo journal (as for `drillbook backup|restore`)."""
    if platform.snapshot_dir is None:
        raise InvalidDrill("the Compose project's platform was opened without its journal")
    return platform.snapshot_dir.parent


def compose_backups(
    platform: DockerPlatform, config: DrillbookConfig, state_dir: Path
) -> DatabaseBackups:
    """The project's database backups: dumps in S3 and their restores into a new volume, base
    backups and point-in-time recovery with the WAL archive volume."""
    from drillbook.backup.compose_pitr import ComposeBackups, VolumePitr

    db = compose_database(platform, config, state_dir)
    pitr = VolumePitr(platform, db.component)
    return ComposeBackups(
        db,
        compose_store(platform, config),
        config.backup,
        dump_restorer=VolumeRestore(platform, db.component).restore_dump,
        pitr_refusal=pitr.refusal(),
        pitr_restorer=pitr.restore_pitr,
    )


@contextmanager
def locked_project(config: DrillbookConfig) -> Iterator[tuple[DockerPlatform, Path]]:
    """The project's platform, its lock held (a drill or another restore is refused, told who
    holds it), and the folder dumps pass through. A project a dead run left faulted is
    refused: `drillbook undo --config` first, then the backup or restore."""
    project = config.docker.project
    if project is None:
        raise InvalidDrill(f"{config.source}: key 'docker.project' is not set")
    engine = engine_address(config.docker.host)
    client = connect(config.docker.host, timeout=config.docker.request_timeout_seconds)
    try:
        path = journal_path(project, engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = TargetLock(
            path.with_suffix(".lock"), target=f"Compose project {project} on {engine}"
        )
        lock.acquire()
        try:
            pending = UndoJournal(path).pending()
            if pending:
                raise InvalidDrill(
                    f"Compose project {project!r} has {len(pending)} fault(s) a dead run left "
                    f"pending ({'; '.join(a.description for _, a in pending)}): run `drillbook "
                    f"undo --config {config.source}` first"
                )
            # The journal's folder: dumps pass through its backups/work (LocalDatabase).
            yield docker_platform(client, config, path), path.parent
        finally:
            lock.release()
    finally:
        client.close()
