"""Database backups of PostgreSQL on a cluster (platform kubernetes): the plan's daily dump, base
backups and the WAL archive for point-in-time recovery, and their restores into postgres-0's data
volume, all through the API (exec in the pod, Jobs mounting its volumes).

    backups = kube_backups(platform, config, state_dir)
    backups.take_dump()                       # pg_dump in postgres-0 -> the backups volume
    backups.take_base_backup()                # pg_basebackup in postgres-0 -> the backups volume
    backups.restore("latest")                 # the data volume wiped and loaded from the dump
    backups.restore("latest", pitr="latest")  # base backup + archived and salvaged WAL

Where they are kept: the backups volume (drillbook.platforms.kube_database_volume; on kind the
PersistentVolumeClaim postgres-backups of k8s/kind-postgres-backups.yaml), not S3 and not this
machine: a restore Job mounts it beside the data volume, so nothing streams through the runner
while the database is down, it outlives the data volume it restores, and the server archives its
WAL into it. It is on the node's disk: a stand-in for the plan's bucket, not an off-site copy.

A restore takes postgres-0 down (scaled to 0, pod deleted), and a Job moves the failed data
directory aside (`failed-STAMP`, kept until the restored server is up, for the undo), builds the
new one beside it and renames it into place, so a Job that dies leaves either directory whole.
The fault's undo (repair_database_volume, journaled before the fault) puts the failed directory
back if no new one is in place and scales the StatefulSet back.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg

from drillbook.backup.errors import (
    BackupError,
    BackupNotFound,
    BackupStoreUnreachable,
    RestoreFailed,
)
from drillbook.backup.local import DatabaseBackups, PitrTarget
from drillbook.backup.pitr import BaseBackup
from drillbook.backup.restore import LocalDatabase, RestoreResult, inspect_evidence
from drillbook.backup.store import (
    NAME_TIME_FORMAT,
    BackupStore,
    StoredBackup,
    backup_name,
    backup_time,
)
from drillbook.config.model import BackupSettings, DrillbookConfig
from drillbook.errors import DrillError, InvalidDrill
from drillbook.platforms.kube_database_volume import (
    BACKUPS_AT,
    DATA_AT,
    PGDATA,
    DatabaseVolumes,
    bring_up,
    database_volumes,
    run_in_database_pod,
    run_on_backups,
    run_on_volumes,
    take_down,
)
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.services.postgres import DATABASE_NAME, DATABASE_USER

READY_TIMEOUT_SECONDS = 180.0
"""From the StatefulSet scaled back to the restored server taking writes (recovery included)."""
BASE_PREFIX = "base-"
KEEP_BASE_BACKUPS = 3
"""Base backups kept in the backups volume (about 50 MB each on kind), the newest ones."""

LIST_DUMPS = f"""d={BACKUPS_AT}/dumps; mkdir -p "$d"; cd "$d"
for f in *.sql.gz; do [ -f "$f" ] || continue
  echo "$f $(stat -c %s "$f") $(cat "$f.sha256" 2>/dev/null || echo -) $(cat "$f.rows" 2>/dev/null || echo -)"
done
"""  # noqa: E501
# pg_dump's own gzip (-Z with the plain format), so a failed pg_dump fails the script (sh has no
# pipefail); checked, then renamed into place: a dump that is there is whole.
TAKE_DUMP = f"""set -eu; d={BACKUPS_AT}/dumps; mkdir -p "$d"; p="$d/.partial-$NAME"
pg_dump -U {DATABASE_USER} -d {DATABASE_NAME} -Z 6 -f "$p"
gzip -t "$p"
sha256sum "$p" | cut -d' ' -f1 > "$d/$NAME.sha256"
echo "$ROWS" > "$d/$NAME.rows"
mv "$p" "$d/$NAME"
echo "$(stat -c %s "$d/$NAME") $(cat "$d/$NAME.sha256")"
"""
TAKE_BASE = f"""set -eu; b={BACKUPS_AT}/base; mkdir -p "$b"; rm -rf "$b"/.partial-*
p="$b/.partial-$NAME"
pg_basebackup -U postgres -D "$p" -Fp -X fetch -c fast
pg_controldata "$p" | sed -n 's/^Database system identifier: *//p' > "$p/drillbook-system-identifier"
mv "$p" "$b/$NAME"
ls -1d "$b"/{BASE_PREFIX}* | sort | head -n -{KEEP_BASE_BACKUPS} | xargs -r rm -rf
du -sb "$b/$NAME" | cut -f1
"""  # noqa: E501
# The failed cluster's pg_wal, what the archive lacks or holds otherwise (the segment being
# written when it died: without it every write since the last archived segment is lost), is
# salvaged beside the archive; restore_command serves it ahead of the archive.
RESTORE_PITR = f"""set -eu
B={BACKUPS_AT}; DATA={DATA_AT}; D={PGDATA}
base=$(cd "$B/base" 2>/dev/null && ls -1d {BASE_PREFIX}* 2>/dev/null | sort | awk -v t="$UPTO" '$0 <= t' | tail -n 1 || true)
[ -z "$BASE" ] || base="$BASE"
[ -n "$base" ] && [ -d "$B/base/$base" ] || {{ echo "no base backup in $B/base up to $UPTO" >&2; exit 3; }}
sysid=$(cat "$B/base/$base/drillbook-system-identifier")
archive="$B/wal/$sysid"; stamp=$(date -u +%Y%m%d-%H%M%S); salv="$B/salvaged-$stamp"
mkdir -p "$salv" "$archive"
if [ -d "$D/pg_wal" ]; then
  for f in "$D"/pg_wal/0*; do
    [ -f "$f" ] || continue; n=${{f##*/}}
    if [ ! -f "$archive/$n" ] || ! cmp -s "$f" "$archive/$n"; then cp "$f" "$salv/$n"; echo "salvaged $n"; fi
  done
fi
rm -rf "$DATA/restoring" "$DATA"/failed-*
mkdir "$DATA/restoring"; cp -a "$B/base/$base/." "$DATA/restoring/"
rm -f "$DATA/restoring/drillbook-system-identifier"; chmod 700 "$DATA/restoring"
touch "$DATA/restoring/recovery.signal"
{{ echo "restore_command=cp $salv/%f %p 2>/dev/null || cp $archive/%f %p"
  echo "recovery_target_timeline=latest"
  [ -z "$TARGET" ] || printf 'recovery_target_time=%s\\nrecovery_target_action=promote\\nrecovery_target_inclusive=true\\n' "$TARGET"
}} > "$DATA/restoring/drillbook-recovery.settings"
[ ! -d "$D" ] || mv "$D" "$DATA/failed-$stamp"
mv "$DATA/restoring" "$D"
echo "base=$base sysid=$sysid salvage=$salv"
"""  # noqa: E501
# A new cluster (initdb), the dump loaded in one transaction on a socket only (out of the
# application's reach: its writes into an empty database would make the dump fail to load),
# stopped cleanly, then renamed into place. The base backups belonged to the replaced cluster:
# retired (PITR from them would go back to it), the newest retired set only kept.
RESTORE_DUMP = f"""set -eu
B={BACKUPS_AT}; DATA={DATA_AT}; D={PGDATA}; f="$B/dumps/$NAME"
[ -f "$f" ] || {{ echo "no dump $NAME in $B/dumps" >&2; exit 3; }}
[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(cat "$f.sha256")" ] || {{ echo "$NAME: sha256 differs from the one recorded" >&2; exit 4; }}
gzip -t "$f"
stamp=$(date -u +%Y%m%d-%H%M%S); R="$DATA/restoring"
rm -rf "$R" "$DATA"/failed-*
initdb -D "$R" -U postgres --auth-local=trust --auth-host=trust -E UTF8 >/dev/null
echo "host all all 0.0.0.0/0 trust" >> "$R/pg_hba.conf"
pg_ctl -D "$R" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -q -c 'CREATE ROLE "{DATABASE_USER}" LOGIN'
psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -q -c 'CREATE DATABASE "{DATABASE_NAME}" OWNER "{DATABASE_USER}"'
gunzip -c "$f" | psql -h /tmp -U {DATABASE_USER} -d {DATABASE_NAME} -v ON_ERROR_STOP=1 -q --single-transaction >/dev/null
pg_ctl -D "$R" -m fast -w stop >/dev/null
[ ! -d "$D" ] || mv "$D" "$DATA/failed-$stamp"
mv "$R" "$D"
if [ -d "$B/base" ]; then rm -rf "$B"/retired-*; mkdir -p "$B/retired-$stamp"; mv "$B/base" "$B/retired-$stamp/base"; fi
# WAL of replaced clusters: only the retired base backups' cluster's is still of use.
kept=" $(cat "$B/retired-$stamp"/base/*/drillbook-system-identifier 2>/dev/null | sort -u | tr '\\n' ' ') "
for w in "$B"/wal/*; do [ -d "$w" ] || continue; case "$kept" in *" ${{w##*/}} "*) ;; *) rm -rf "$w";; esac; done
echo "loaded $NAME"
"""  # noqa: E501
# Once the restored server is up: the failed directory is no longer needed for an undo, and the
# salvaged WAL joins the archive (no-clobber: the archive's own copy wins), as on Compose.
CLEAN_UP = f"""B={BACKUPS_AT}; rm -rf {DATA_AT}/failed-* {PGDATA}/drillbook-recovery.settings
for s in "$B"/salvaged-*; do [ -d "$s" ] || continue
  a="$B/wal/$(cat "$B/base/$BASE/drillbook-system-identifier" 2>/dev/null || echo none)"
  [ -d "$a" ] && cp -n "$s"/* "$a"/ 2>/dev/null; rm -rf "$s"
done
true
"""


class PodDumpStore(BackupStore):
    """The dumps in the backups volume, read in postgres-0 (or a Job while it is down)."""

    def __init__(
        self, settings: BackupSettings, platform: KubernetesPlatform, volumes: DatabaseVolumes
    ) -> None:
        # No S3 client: this store is a folder of the backups volume (see the module's note).
        self.settings = settings
        self.platform = platform
        self.volumes = volumes

    @property
    def where(self) -> str:
        return f"pvc/{self.volumes.backups_claim} in {self.volumes.namespace}: {BACKUPS_AT}/dumps"

    def _run(self, script: str, purpose: str) -> str:
        try:
            return run_on_backups(self.platform, self.volumes, script, purpose=purpose)
        except DrillError as exc:
            raise BackupStoreUnreachable(f"cannot read {self.where}: {exc}") from None

    def backups(self) -> list[StoredBackup]:
        found: list[StoredBackup] = []
        for line in self._run(LIST_DUMPS, "list").splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue
            name, size, sha, rows = parts
            taken = backup_time(self.settings.name_prefix, name)
            if taken is None:
                continue
            metadata = {} if rows == "-" else {"evidence-rows-before": rows}
            found.append(
                StoredBackup(
                    name=name,
                    key=f"{BACKUPS_AT}/dumps/{name}",
                    taken_at=taken,
                    size_bytes=int(size),
                    sha256=None if sha == "-" else sha,
                    metadata=metadata,
                )
            )
        return sorted(found, key=lambda b: b.taken_at)

    def describe(self, name: str) -> StoredBackup:
        for stored in self.backups():
            if stored.name == name:
                return stored
        raise BackupNotFound(f"no dump named {name!r} in {self.where}")

    def newest(self) -> StoredBackup:
        found = self.backups()
        if not found:
            raise BackupNotFound(f"no dump in {self.where}")
        return found[-1]

    def resolve(self, backup: str) -> StoredBackup:
        return self.newest() if backup == "latest" else self.describe(backup)

    def exists(self, name: str) -> bool:
        return any(b.name == name for b in self.backups())

    def download(self, backup: StoredBackup, target: Path) -> Path:
        """Copied here in base64 (the exec stream is text), its sha256 checked by the caller."""
        text = self._run(f'base64 -w0 "{backup.key}"', "download")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(text))
        import hashlib

        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if backup.sha256 and digest != backup.sha256:
            from drillbook.backup.errors import BackupCorrupt

            raise BackupCorrupt(
                f"{backup.name}: sha256 {digest} is not the recorded {backup.sha256}"
            )
        return target

    def delete(self, name: str) -> None:
        self._run(f'rm -f "{BACKUPS_AT}/dumps/{name}" "{BACKUPS_AT}/dumps/{name}".*', "delete")

    def enforce_retention(self, now: datetime, retention: timedelta) -> list[str]:
        expired = [b.name for b in self.backups() if now - b.taken_at > retention]
        for name in expired:
            self.delete(name)
        return expired


@dataclass
class KubeDatabaseBackups(DatabaseBackups):
    """DatabaseBackups whose dumps, base backups and restores happen in the cluster."""

    platform: KubernetesPlatform | None = None
    volumes: DatabaseVolumes | None = None
    bases: list[BaseBackup] = field(default_factory=list)

    def _where(self) -> tuple[KubernetesPlatform, DatabaseVolumes]:
        assert self.platform is not None and self.volumes is not None
        return self.platform, self.volumes

    def take_dump(self) -> StoredBackup:
        platform, volumes = self._where()
        now = datetime.now(UTC)
        if now.strftime(NAME_TIME_FORMAT) == getattr(self, "_last_dump_stamp", None):
            time.sleep(1.05 - now.microsecond / 1e6)  # one-second names: never overwrite one
            now = datetime.now(UTC)
        self._last_dump_stamp = now.strftime(NAME_TIME_FORMAT)
        name = backup_name(self.settings.name_prefix, now)
        rows = self.evidence_rows()
        answer = run_in_database_pod(
            platform, volumes, f"NAME={name} ROWS={rows if rows is not None else '-'}\n{TAKE_DUMP}"
        )
        if answer.returncode != 0:
            raise BackupError(f"pg_dump in {volumes.pod} failed: {answer.stderr.strip()[-400:]}")
        size, sha = answer.stdout.split()[-2:]
        stored = StoredBackup(
            name=name,
            key=f"{BACKUPS_AT}/dumps/{name}",
            taken_at=now.replace(microsecond=0),
            size_bytes=int(size),
            sha256=sha,
            metadata={} if rows is None else {"evidence-rows-before": str(rows)},
        )
        expired = self.store.enforce_retention(
            datetime.now(UTC), timedelta(seconds=self.settings.retention_seconds)
        )
        self.taken.append({"kind": "dump", **stored.figures(), "expired": expired})
        return stored

    def take_base_backup(self) -> BaseBackup:
        platform, volumes = self._where()
        now = datetime.now(UTC)
        name = f"{BASE_PREFIX}{now.strftime(NAME_TIME_FORMAT)}"
        answer = run_in_database_pod(platform, volumes, f"NAME={name}\n{TAKE_BASE}")
        if answer.returncode != 0:
            raise BackupError(
                f"pg_basebackup in {volumes.pod} failed: {answer.stderr.strip()[-400:]}"
            )
        base = BaseBackup(
            name=name,
            path=Path(str(PurePosixPath(BACKUPS_AT) / "base" / name)),
            taken_at=datetime.now(UTC),
            size_bytes=int(answer.stdout.split()[-1]),
        )
        self.bases.append(base)
        self.taken.append({"kind": "base", **base.figures()})
        return base

    def newest_base_backup(self) -> BaseBackup | None:
        return self.bases[-1] if self.bases else None

    def restore(self, backup: str = "latest", *, pitr: PitrTarget = None) -> RestoreResult:
        if pitr is None:
            return super().restore(backup)  # fetched and verified here, then restore_dump
        target = None if pitr == "latest" else pitr
        assert target is None or isinstance(target, datetime)
        result = self._restore_pitr(backup, target)
        self.used.append(result.figures())
        return result

    def _restore_pitr(self, backup: str, target: datetime | None) -> RestoreResult:
        platform, volumes = self._where()
        upto = (
            f"{BASE_PREFIX}{target.astimezone(UTC).strftime(NAME_TIME_FORMAT)}"
            if target is not None
            else f"{BASE_PREFIX}99999999-999999"
        )
        started = time.monotonic()
        take_down(platform, volumes)
        log = run_on_volumes(
            platform,
            volumes,
            RESTORE_PITR,
            purpose="pitr",
            env={
                "UPTO": upto,
                "BASE": "" if backup == "latest" else backup,
                "TARGET": target.astimezone(UTC).isoformat() if target is not None else "",
            },
        )
        built = time.monotonic() - started
        summary = dict(
            part.split("=", 1) for part in log.strip().splitlines()[-1].split() if "=" in part
        )
        salvaged = tuple(
            line.split()[1] for line in log.splitlines() if line.startswith("salvaged ")
        )
        bring_up(platform, volumes)
        self._wait_promoted()
        inspection = inspect_evidence(self.db.dsn(), self.db.records_table)
        run_in_database_pod(platform, volumes, f"BASE={summary.get('base', '')}\n{CLEAN_UP}")
        base_name = summary.get("base", "?")
        taken = (
            datetime.strptime(base_name[len(BASE_PREFIX) :], NAME_TIME_FORMAT).replace(tzinfo=UTC)
            if base_name.startswith(BASE_PREFIX)
            else None
        )
        return RestoreResult(
            mode="pitr",
            backup={
                "name": base_name,
                "age_seconds": round((datetime.now(UTC) - taken).total_seconds(), 3)
                if taken
                else None,
            },
            target=target.isoformat() if target is not None else None,
            evidence_rows=inspection.evidence_rows,
            chain=inspection.chain,
            salvaged_wal=salvaged,
            build_seconds=built,
            swap_seconds=time.monotonic() - started - built,
            notes=(
                f"restored into {volumes.data_claim} by a Job; postgres-0 recovered and promoted",
                *inspection.notes,
            ),
            timeline="latest",
            table=inspection.table,
        )

    def restore_dump_in_volume(
        self, db: LocalDatabase, dump: Path, *, name: str, backup: dict[str, Any]
    ) -> RestoreResult:
        """The dump (verified here by fetch, again in the Job) loaded into a new cluster in the
        data volume; postgres-0 started on it."""
        platform, volumes = self._where()
        started = time.monotonic()
        take_down(platform, volumes)
        run_on_volumes(platform, volumes, RESTORE_DUMP, purpose="dump", env={"NAME": name})
        built = time.monotonic() - started
        bring_up(platform, volumes)
        self._wait_promoted()
        inspection = inspect_evidence(db.dsn(), db.records_table)
        run_in_database_pod(platform, volumes, f"BASE=\n{CLEAN_UP}")
        self.bases.clear()
        return RestoreResult(
            mode="dump",
            backup=backup,
            target=None,
            evidence_rows=inspection.evidence_rows,
            chain=inspection.chain,
            build_seconds=built,
            swap_seconds=time.monotonic() - started - built,
            notes=(f"restored into {volumes.data_claim} by a Job", *inspection.notes),
            table=inspection.table,
        )

    def _wait_promoted(self) -> None:
        """Until the server behind the Service takes writes (a PITR's server answers read-only
        queries while it replays; the pod is Ready then already)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.db.dsn(), connect_timeout=3) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and row[0] is False:
                        return
                    last = "still in recovery"
            except psycopg.Error as exc:
                last = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            time.sleep(0.25)
        raise RestoreFailed(
            f"the restored database took no writes within {READY_TIMEOUT_SECONDS:.0f}s: {last}"
        )

    def figures(self) -> dict[str, Any]:
        return {**super().figures(), "base_backups": [b.figures() for b in self.bases]}


def kube_backups(
    platform: KubernetesPlatform, config: DrillbookConfig, state_dir: Path
) -> KubeDatabaseBackups:
    """The cluster database's backups; InvalidDrill, saying why, when it has no backups volume
    or no route from this machine ([ledger] dsn_env: the restore test and the inspection read
    the database there)."""
    from drillbook.backup.compose import database_component

    component = database_component(config)
    volumes = database_volumes(platform, component)
    refusal = volumes.refusal()
    if refusal is not None:
        raise InvalidDrill(refusal)
    port = _published_port(config)
    db = LocalDatabase(
        pg_bin=postgres_bin_dir(config.stack.postgres_bin_dir),
        run_dir=state_dir,
        port=port,
        platform=platform,
        component=component,
        ready_timeout_seconds=READY_TIMEOUT_SECONDS,
        records_table=config.ledger.table,
    )
    backups = KubeDatabaseBackups(
        db,
        PodDumpStore(config.backup, platform, volumes),
        config.backup,
        platform=platform,
        volumes=volumes,
    )
    backups.dump_restorer = backups.restore_dump_in_volume
    return backups


def _published_port(config: DrillbookConfig) -> int:
    """The port of 127.0.0.1 the database is published on: the one in [ledger] dsn_env's DSN."""
    import os
    from urllib.parse import urlsplit

    env = config.ledger.dsn_env
    dsn = os.environ.get(env) if env else None
    if not dsn:
        raise InvalidDrill(
            "drillbook reads the restored database on a cluster through the route in [ledger] "
            f"dsn_env ({env or 'not set'}), which is not set in the environment"
        )
    parts = urlsplit(dsn)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise InvalidDrill(
            f"{env} names {parts.hostname}:{parts.port}; drillbook reads the restored database "
            "on 127.0.0.1:PORT (a NodePort published by the cluster, as configs/kind.toml's)"
        )
    return int(parts.port)


def kube_state_dir(platform: KubernetesPlatform) -> Path:
    """Where a dump downloaded for the restore test passes through on this machine."""
    return Path.home() / ".cache" / "drillbook" / "undo" / "kubernetes" / platform.context
