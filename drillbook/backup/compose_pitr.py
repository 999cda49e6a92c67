"""Point-in-time recovery of a Compose project's PostgreSQL (platform docker): a base backup and
the WAL archive replayed into a recreated data volume, as the embedded stack does it
(drillbook.backup.restore.restore_pitr) with the engine doing what the file system does there.

The server archives every finished WAL segment into a volume of its own, in a folder named
after its cluster's system identifier (deploy/compose/images/postgres/entrypoint.sh); base
backups are `pg_basebackup` through the published port, kept on this machine where the embedded
stack keeps them (the journal's folder, backups/base). A restore:

1. copies the newest base backup taken before the target into a scratch folder here;
2. reads the failed cluster's own pg_wal out of its volume, and the archive's copies of the
   same names, and salvages what the archive lacks (drillbook.backup.pitr.salvage_wal: the
   segment being written when the server died, without which every write since the last
   archived segment would be lost);
3. puts the salvaged WAL into the archive volume beside the live archive (never into it: the
   failed cluster's archiver, if it ever ran again, would find its own segment names taken and
   stall), then removes the service's containers and its data volume, creates the volume again
   and writes the base backup into it with recovery.signal;
4. runs the service's image alone on the two volumes (out of its clients' reach, port published
   on 127.0.0.1 only, as drillbook.platforms.docker_scratch); the recovery's settings are in the
   volume beside recovery.signal (RECOVERY_SETTINGS_FILE: restore_command serving the salvaged
   copy of a file ahead of the archive's, the failed cluster's own timeline, the target), which
   the image's entrypoint passes to the server. It waits for the promotion, counts the records
   table and verifies its chain, and stops the server cleanly;
5. moves the salvaged WAL into the live archive (now the restored cluster's past, which a later
   restore from the same base backup replays), and lets Compose create the service's containers
   on the restored volume.

Steps 1-2 change nothing: a failure there leaves the failed volume as it was. From step 3 on the
data volume is replaced, as by the dump's restore (drillbook.backup.compose.VolumeRestore). A
runner killed once the volume holds the base backup leaves a recovery the service finishes by
itself: the fault's undo removes the restore's container and starts the service's, whose
entrypoint finds recovery.signal and the settings (the salvaged WAL then stays in its folder
beside the archive, unmerged). Killed in the moment between the volume's removal and the base
backup written into it, the service starts on an empty volume: restore again.
"""

from __future__ import annotations

import io
import json
import posixpath
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from drillbook.backup.cluster import copy_tree, pg_tool, remove_tree
from drillbook.backup.compose_volumes import PostgresVolumes, container_env, postgres_volumes
from drillbook.backup.errors import BackupError, RestoreFailed
from drillbook.backup.local import DatabaseBackups, PitrTarget
from drillbook.backup.pitr import (
    BASE_PREFIX,
    BASE_TIME_FORMAT,
    LABEL_FILE,
    BaseBackup,
    choose_base_backup,
    restore_command,
    salvage_wal,
)
from drillbook.backup.restore import Inspection, LocalDatabase, RestoreResult, inspect_evidence
from drillbook.backup.wal import (
    HISTORY_NAME,
    SEGMENT_NAME,
    choose_timeline,
    segment_problem,
    system_identifier,
)
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_scratch import STOP_GRACE_SECONDS, THROWAWAY_LABEL
from drillbook.platforms.docker_volumes import VolumeMount, _throwaway
from drillbook.stack.services.postgres import DATABASE_NAME, DATABASE_USER

POSTGRES_PORT = "5432/tcp"
SALVAGED_PREFIX = "salvaged-"
"""The archive volume's folder of a restore's salvaged WAL, until it joins the archive."""
RECOVERY_SETTINGS_FILE = "drillbook-recovery.settings"
"""In the data directory: the recovery's settings (recovery_settings_text); the image's
entrypoint reads it."""
BASE_BACKUP_TIMEOUT = 600
PitrRestorer = Callable[..., RestoreResult]
"""(db, base backup, *, target) -> RestoreResult, as VolumePitr.restore_pitr."""
_POLL_SECONDS = 0.25
_LOG_TAIL_LINES = 30

NO_ARCHIVE = (
    "point-in-time recovery needs the server's WAL archived where a restore can read it: the "
    "Compose service mounts no volume at its WAL archive ({where}; the reference image "
    "deploy/compose/images/postgres archives there, in a folder per cluster)"
)

# Move each salvaged file into the cluster's archive folder unless the archive has it (as
# drillbook.backup.pitr.merge_salvaged: the restored cluster's own `.partial` of its branch
# point wins), then remove the salvage folder and the recovery's settings file. $1: salvage
# folder, $2: archive folder, $3: the settings file.
_MERGE_SCRIPT = (
    'set -eu; cd "$1"; for f in *; do [ -e "$f" ] || continue; '
    'if [ ! -e "$2/$f" ] && [ ! -e "$2/$f.partial" ]; then mv "$f" "$2/$f"; fi; done; '
    'cd /; rm -rf "$1"; rm -f "$3"'
)


def archive_folder(archive_at: str, identifier: int) -> str:
    """Where the server archives the WAL of the cluster `identifier` (the image's layout)."""
    return posixpath.join(archive_at.rstrip("/"), str(identifier))


def recovery_settings_text(
    archive: str, salvaged: str | None, target: datetime | None, *, timeline: str
) -> str:
    """The recovery's server settings, one `name=value` a line, for RECOVERY_SETTINGS_FILE.

    They live in the restored volume beside recovery.signal, and the image's entrypoint passes
    them to the server (`-c`) while recovery.signal is there: a recovery whose runner died is
    finished by the service's own container when the fault's undo starts it. Once promoted
    (recovery.signal gone) the file is ignored, and removed; nothing of the recovery stays in
    the cluster's configuration files (as on the embedded stack). The archive_command stays
    the image's: the promoted cluster archives into its own folder."""
    settings = {
        "restore_command": restore_command(Path(archive), Path(salvaged) if salvaged else None),
        "recovery_target_timeline": timeline,
    }
    if target is not None:
        settings["recovery_target_time"] = target.astimezone(UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f+00"
        )
        settings["recovery_target_action"] = "promote"
        settings["recovery_target_inclusive"] = "true"
    return "".join(f"{name}={value}\n" for name, value in settings.items())


def tree_as_tar(tree: Path, *, uid: int, gid: int, under: str = "") -> bytes:
    """`tree`'s content as a tar archive owned by `uid:gid` (the server's user in the image,
    which need not be this machine's), its members under `under` (none: at the top)."""

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if under:
            # The folder itself too, or the engine creates it as root: the server's user
            # could neither move its files out nor remove it.
            tar.add(tree, arcname=under, recursive=False, filter=owned)
        for path in sorted(tree.rglob("*")):
            name = posixpath.join(under, path.relative_to(tree).as_posix())
            tar.add(path, arcname=name, recursive=False, filter=owned)
    return buffer.getvalue()


def wanted_from_archive(pg_wal: Path, identifier: int) -> list[str]:
    """The failed cluster's WAL files whose archived copies the salvage compares with: its
    own segments (recycled, pre-allocated and other clusters' files left out) and history."""
    names = []
    for path in sorted(pg_wal.iterdir()) if pg_wal.is_dir() else []:
        segment = SEGMENT_NAME.fullmatch(path.name)
        if segment is not None:
            if segment_problem(path, path.name.removesuffix(".partial"), identifier) is None:
                names.append(path.name)
        elif HISTORY_NAME.fullmatch(path.name):
            names.append(path.name)
    return names


@dataclass
class VolumePitr:
    """Point-in-time recovery into the Compose service's recreated data volume."""

    platform: DockerPlatform
    component: str

    def volumes(self) -> PostgresVolumes:
        return postgres_volumes(self.component, self.platform.containers(self.component))

    def refusal(self) -> str | None:
        """Why this service cannot be recovered to a point in time (None: it can)."""
        containers = self.platform.containers(self.component)
        if not containers:
            return None  # nothing to tell from: the restore itself says what is missing
        volumes = postgres_volumes(self.component, containers)
        if volumes.archive is None:
            where = container_env(containers[0]).get("WAL_ARCHIVE", "/var/lib/postgresql/...")
            return NO_ARCHIVE.format(where=where)
        return None

    def restore_pitr(
        self, db: LocalDatabase, base: BaseBackup, *, target: datetime | None
    ) -> RestoreResult:
        """Base backup + archive (+ the failed cluster's unarchived WAL) up to `target`, into
        the recreated data volume (see the module's note)."""
        volumes = self.volumes()
        if volumes.archive is None:
            raise BackupError(f"no point-in-time recovery: {self.refusal()}")
        archive = volumes.archive
        containers = self.platform.containers(self.component)
        image = self.platform.image_of(self.component)
        env = list(containers[0].attrs.get("Config", {}).get("Env") or [])
        stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
        work = db.work_dir / f"pitr-{stamp}"
        started = time.monotonic()
        client = self.platform.engine
        was_running = db.running()
        try:
            # The failed server must not write while its pg_wal is read (a CLI restore of a
            # running database; a drill's fault has killed it already).
            self.platform.stop(self.component)
            scratch = work / "pgdata"
            work.mkdir(parents=True)
            copy_tree(base.path, scratch)
            (scratch / LABEL_FILE).unlink(missing_ok=True)
            identifier = system_identifier(scratch)
            if identifier is None:
                raise RestoreFailed(
                    f"base backup {base.name} has no readable global/pg_control; restore "
                    "another base backup (--backup NAME)"
                )
            folder = archive_folder(archive.destination, identifier)
            owner = _read_failed_wal(client, image, volumes.data, work / "failed")
            archived = work / "archived"
            archived.mkdir()
            _read_archived(
                client,
                image,
                archive,
                folder,
                wanted_from_archive(work / "failed" / "pg_wal", identifier),
                archived,
            )
            salvage_dir = work / "salvaged"
            salvage_dir.mkdir()
            salvage = salvage_wal(
                work / "failed",
                archived,
                scratch / "pg_wal",
                salvage_dir,
                system_identifier=identifier,
            )
            timeline = choose_timeline(salvage.timeline)
            salvaged_at = posixpath.join(archive.destination, SALVAGED_PREFIX + stamp)
            (scratch / "recovery.signal").touch()
            (scratch / RECOVERY_SETTINGS_FILE).write_text(
                recovery_settings_text(folder, salvaged_at, target, timeline=timeline)
            )
            _put(
                client,
                image,
                archive,
                tree_as_tar(salvage_dir, uid=owner[0], gid=owner[1], under=SALVAGED_PREFIX + stamp),
            )
            built_tar = tree_as_tar(scratch, uid=owner[0], gid=owner[1])
        except BaseException:
            # Nothing of the failed server was changed: left as the fault left it, or running
            # again when this restore stopped it.
            if was_running:
                self.platform.start(self.component)
            raise
        finally:
            remove_tree(work)
        inspected: list[Inspection] = []

        def inspect(port: int) -> None:
            dsn = f"postgresql://{DATABASE_USER}@127.0.0.1:{port}/{DATABASE_NAME}"
            inspected.append(inspect_evidence(dsn, db.records_table))

        self._replace_volume(
            client,
            image=image,
            env=env,
            volumes=volumes,
            content=built_tar,
            promotion_timeout=db.ready_timeout_seconds,
            inspect=inspect,
            merge=(salvaged_at, folder),
        )
        built = time.monotonic() - started
        try:
            self.platform.wait_until_ready(self.component, timeout=db.ready_timeout_seconds)
        except Exception as exc:
            raise RestoreFailed(
                f"'{self.component}' did not start on the restored volume: {exc}"
            ) from None
        (inspection,) = inspected
        notes: tuple[str, ...] = (f"recovered into a recreated volume {volumes.data.name}",)
        notes += salvage.notes + inspection.notes
        if salvage.timeline is None:
            notes += ("the failed cluster's timeline is unknown: recovered to the latest one",)
        if salvage.replacing:
            # Replayed ahead of the archive's copy, which the merge keeps (it never overwrites
            # an archived segment; the embedded stack moves the archived copy aside instead).
            notes += (
                f"salvaged WAL that supersedes the archive's copy was replayed but not "
                f"archived: {', '.join(salvage.replacing)}",
            )
        return RestoreResult(
            mode="pitr",
            backup=base.figures(),
            target=target.isoformat() if target is not None else None,
            evidence_rows=inspection.evidence_rows,
            chain=inspection.chain,
            salvaged_wal=salvage.copied,
            build_seconds=built,
            swap_seconds=time.monotonic() - started - built,
            notes=notes,
            timeline=timeline,
            table=inspection.table,
        )

    def _replace_volume(
        self,
        client: Any,
        *,
        image: str,
        env: list[str],
        volumes: PostgresVolumes,
        content: bytes,
        promotion_timeout: float,
        inspect: Callable[[int], None],
        merge: tuple[str, str],
    ) -> None:
        """The service's containers removed with the data volume, the volume created again
        with `content`, the image run alone on it (recovering) until it is promoted and
        `inspect(host_port)` has looked at it, stopped cleanly, the salvaged WAL merged; then
        Compose creates the service's containers again (also when something failed: the
        service is never left without them)."""
        from drillbook.platforms import docker_volumes

        assert volumes.archive is not None
        comp = self.platform.component(self.component)
        replicas = max(comp.desired, 1)
        data = volumes.data
        described = docker_volumes.describe_volume(client, data.name)
        for container in self.platform.containers(self.component):
            container.remove(force=True)
        try:
            docker_volumes.remove(client, data.name)
            docker_volumes.recreate(client, data.name, described)
            _put(client, image, data, content)
            container = client.containers.run(
                image,
                detach=True,
                environment=env,
                volumes={
                    data.name: {"bind": data.destination, "mode": "rw"},
                    volumes.archive.name: {"bind": volumes.archive.destination, "mode": "rw"},
                },
                ports={POSTGRES_PORT: ("127.0.0.1", None)},
                labels={THROWAWAY_LABEL: "restore"},
            )
            try:
                port = _published(container)
                _wait_promoted(
                    container,
                    f"postgresql://postgres@127.0.0.1:{port}/postgres",
                    timeout=promotion_timeout,
                )
                inspect(port)
                container.stop(timeout=STOP_GRACE_SECONDS)
                status = int(container.wait(timeout=STOP_GRACE_SECONDS + 10).get("StatusCode", -1))
                if status != 0:
                    raise RestoreFailed(
                        f"the recovering server on volume {data.name} exited {status} when "
                        "stopped: the volume may be unfinished"
                    )
            finally:
                container.remove(force=True)
            _merge_salvaged(client, image, volumes, *merge)
        finally:
            self.platform.compose.scale(comp.service, replicas)
            comp.desired = replicas


def _log_tail(container: Any) -> str:
    return str(container.logs(tail=_LOG_TAIL_LINES).decode(errors="replace").strip())


def _wait_promoted(container: Any, dsn: str, *, timeout: float) -> None:
    """Until the server accepts connections and has left recovery (promoted); at once, with
    its log, when it exits (a recovery that cannot go on: a missing segment, a target before
    the base backup's end)."""
    deadline = time.monotonic() + timeout
    last = "no connection yet"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            raise RestoreFailed(
                "the recovering server exited before its promotion; its log ends:\n"
                + _log_tail(container)
            )
        try:
            with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
                last = "still in recovery"
        except psycopg.Error as exc:
            last = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        time.sleep(_POLL_SECONDS)
    raise RestoreFailed(
        f"the recovering server was not promoted in {timeout:.0f}s ({last}); its log ends:\n"
        + _log_tail(container)
    )


def _published(container: Any) -> int:
    container.reload()
    ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
    for binding in ports.get(POSTGRES_PORT) or []:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    raise RestoreFailed(
        f"the engine published no host port for the recovering server {container.name}"
    )


def _read_failed_wal(client: Any, image: str, data: VolumeMount, into: Path) -> tuple[int, int]:
    """The failed cluster's pg_wal copied to `into`/pg_wal; returns the owner (uid, gid) of its
    files in the image (what the restored files are given)."""
    from drillbook.platforms.docker_files import read_archive

    into.mkdir(parents=True)
    archive = read_archive(client, image, data.name, data.destination, "pg_wal")
    if archive is None:
        raise RestoreFailed(f"volume {data.name} holds no pg_wal: is it a PostgreSQL data volume?")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
        owner = (members[0].uid, members[0].gid)
        tar.extractall(into, filter="data")
    return owner


def _read_archived(
    client: Any, image: str, archive: VolumeMount, folder: str, names: list[str], into: Path
) -> None:
    """The archive's copies of `names` (those it has) into `into`, through one throwaway."""
    import docker.errors

    if not names:
        return
    helper = _throwaway(client, image, archive.name, archive.destination)
    try:
        for name in names:
            try:
                stream, _ = helper.get_archive(posixpath.join(folder, name))
            except docker.errors.NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.getmember(name)
                extracted = tar.extractfile(member)
                if extracted is not None:
                    (into / name).write_bytes(extracted.read())
    finally:
        helper.remove(force=True)


def _put(client: Any, image: str, volume: VolumeMount, content: bytes) -> None:
    helper = _throwaway(client, image, volume.name, volume.destination)
    try:
        if not helper.put_archive(volume.destination, content):
            raise RestoreFailed(f"the engine refused to write into volume {volume.name}")
    finally:
        helper.remove(force=True)


def _merge_salvaged(
    client: Any, image: str, volumes: PostgresVolumes, salvaged_at: str, folder: str
) -> None:
    """The salvaged WAL into the cluster's archive folder, the settings file gone (see
    _MERGE_SCRIPT)."""
    assert volumes.archive is not None
    settings = posixpath.join(volumes.data.destination, RECOVERY_SETTINGS_FILE)
    client.containers.run(
        image,
        entrypoint=["/bin/sh", "-c", _MERGE_SCRIPT, "merge", salvaged_at, folder, settings],
        command=[],
        volumes={
            volumes.data.name: {"bind": volumes.data.destination, "mode": "rw"},
            volumes.archive.name: {"bind": volumes.archive.destination, "mode": "rw"},
        },
        labels={THROWAWAY_LABEL: "wal-merge"},
        network_disabled=True,
        remove=True,
    )


def take_base_backup(pg_bin: Path, *, port: int, base_dir: Path, now: datetime) -> BaseBackup:
    """`pg_basebackup -Fp -Xs` through the published port into base_dir/base-YYYYmmdd-HHMMSS,
    as drillbook.backup.pitr.take_base_backup but run as this process's user: the files are
    never a server's data directory here (a restore writes them into the volume as the image's
    server user), and the journal's folder they go to need not be open to another user."""
    base_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime(BASE_TIME_FORMAT)
    name, suffix = BASE_PREFIX + stamp, 1
    while (base_dir / name).exists():
        suffix += 1
        name = f"{BASE_PREFIX}{stamp}-{suffix}"
    partial = base_dir / (name + ".partial")
    command = [str(pg_tool(pg_bin, "pg_basebackup")), "-h", "127.0.0.1", "-p", str(port)]
    command += ["-U", "postgres", "-D", str(partial), "-Fp", "-Xs", "-c", "fast", "--no-password"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BASE_BACKUP_TIMEOUT, check=False
    )
    if result.returncode != 0:
        remove_tree(partial)
        raise BackupError(
            f"pg_basebackup on 127.0.0.1:{port} failed ({result.returncode}): "
            f"{result.stderr.strip()[-600:]}"
        )
    finished = datetime.now(UTC)
    (partial / LABEL_FILE).write_text(json.dumps({"name": name, "taken_at": finished.isoformat()}))
    partial.rename(base_dir / name)
    size = sum(p.stat().st_size for p in (base_dir / name).rglob("*") if p.is_file())
    return BaseBackup(name, base_dir / name, finished, size)


@dataclass
class ComposeBackups(DatabaseBackups):
    """The project's database backups: dumps restored into a recreated volume (the base
    class's `dump_restorer`), base backups through the published port and point-in-time
    recoveries by `pitr_restorer`."""

    pitr_restorer: PitrRestorer | None = None

    # Not the base class's: that one runs pg_basebackup as the embedded server's user, who may
    # not write into this journal's folder under the runner's home ("Permission denied").
    def take_base_backup(self) -> BaseBackup:
        if self.pitr_refusal is not None:
            raise BackupError(f"no base backup: {self.pitr_refusal}")
        base = take_base_backup(
            self.db.pg_bin, port=self.db.port, base_dir=self.db.base_dir, now=datetime.now(UTC)
        )
        self.taken.append({"kind": "base", **base.figures()})
        return base

    def restore(self, backup: str = "latest", *, pitr: PitrTarget = None) -> RestoreResult:
        if pitr is None or self.pitr_restorer is None:
            return super().restore(backup, pitr=pitr)
        if self.pitr_refusal is not None:
            raise BackupError(f"no point-in-time recovery: {self.pitr_refusal}")
        target = None if pitr == "latest" else pitr
        assert target is None or isinstance(target, datetime)
        base = (
            choose_base_backup(self.db.base_dir, target)
            if backup == "latest"
            else self._named_base(backup)
        )
        result = self.pitr_restorer(self.db, base, target=target)
        self.used.append(result.figures())
        return result
