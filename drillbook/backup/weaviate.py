"""Weaviate backups as the plan's `scripts/backup_weaviate.sh` makes them, and their restore.

The plan (Backup Procedures, Weaviate Backups: daily, 30-day retention):

    BACKUP_NAME="weaviate-$(date +%Y%m%d-%H%M%S)"
    curl -X POST http://localhost:8080/v1/backups/filesystem -d '{"id": ..., "include": "*"}'
    kubectl cp eleanor-vector/weaviate-0:/var/lib/weaviate/backups/${BACKUP_NAME} backups/...
    aws s3 sync "backups/weaviate/${BACKUP_NAME}" "s3://eleanor-backups/weaviate/${BACKUP_NAME}/"

`create_backup` does exactly that, and also waits for the backup to reach SUCCESS before exporting
(the script copies whatever is on disk the moment the POST returns, which may be a backup still
being written), then prunes backups older than the retention. `restore_backup` is the plan's
`./scripts/restore_weaviate.sh --backup=latest`: find the backup in S3, bring it back to Weaviate's
backup directory if Weaviate lost it, and restore through the backup API.

Everything is checked before Weaviate is asked to change anything, so a missing or unusable backup
is one clear error and Weaviate is left as it was. (The plan's `"include": "*"` is not valid for
the backup API, which takes a list of collections; leaving `include` out backs up all of them.)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from drillbook.core.polling import poll_until
from drillbook.errors import DrillError, DrillFailed
from drillbook.stack.services.weaviate import WeaviateEndpoint

BACKEND = "filesystem"
BUCKET = "eleanor-backups"
PREFIX = "weaviate/"
RETENTION_DAYS = 30
NAME_PREFIX = "weaviate-"
NAME_FORMAT = "weaviate-%Y%m%d-%H%M%S"
DEFAULT_TIMEOUT_SECONDS = 300.0
ANSWER_TIMEOUT_SECONDS = 30.0
"""How long a restore waits for a Weaviate that was just started to answer at its address."""
_POLL_SECONDS = 0.1
_DONE = "SUCCESS"
_FAILED = frozenset({"FAILED", "CANCELED", "CANCELLING"})


def find_backup(backups: list[StoredBackup], backup_id: str, where: str) -> StoredBackup:
    """The named backup among `backups` (oldest first), or the newest for "latest"; a
    BackupNotFound that names `where` and the newest ones when there is no such backup."""
    if not backups:
        raise BackupNotFound(
            f"no Weaviate backup in {where}: nothing to restore. Create one with "
            "`drillbook backup weaviate` (the plan's daily scripts/backup_weaviate.sh)"
        )
    if backup_id == "latest":
        return backups[-1]
    for backup in backups:
        if backup.backup_id == backup_id:
            return backup
    names = ", ".join(b.backup_id for b in backups[-5:])
    raise BackupNotFound(f"no Weaviate backup {backup_id!r} in {where}; the newest are: {names}")


class WeaviateBackupError(DrillFailed):
    """A backup could not be made or restored: the plan's recovery option cannot be carried out.

    A DrillFailed, not an infrastructure error: a drill that finds no usable backup has found
    exactly what it exists to find.
    """


class BackupNotFound(WeaviateBackupError):
    """No backup (or not the named one) in the backup store."""


class BackupFailed(WeaviateBackupError):
    """Weaviate reported the backup or the restore as failed, or refused it."""


class WeaviateUnreachable(DrillError):
    """Weaviate's REST API did not answer."""


def backup_name(now: datetime) -> str:
    """`weaviate-YYYYmmdd-HHMMSS` in UTC, as the plan's `date +%Y%m%d-%H%M%S` on a UTC host."""
    return now.astimezone(UTC).strftime(NAME_FORMAT)


def backup_time(name: str) -> datetime | None:
    """When a backup was taken, from its name; None for names not made by this module."""
    try:
        return datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class StoredBackup:
    """One backup in the backup store (S3)."""

    backup_id: str
    created_at: datetime
    size_bytes: int
    files: int

    def age_seconds(self, now: datetime) -> float:
        return (now - self.created_at).total_seconds()


@dataclass(frozen=True)
class BackupResult:
    """What `create_backup` did."""

    backup: StoredBackup
    s3_uri: str
    export_dir: Path
    seconds: float
    """From the backup request to the upload's end."""
    weaviate_seconds: float
    """From the backup request to Weaviate's SUCCESS."""
    pruned: tuple[str, ...] = ()
    """Backups removed by the retention."""


@dataclass(frozen=True)
class RestoreResult:
    """What `restore_backup` did."""

    backup: StoredBackup
    age_seconds: float
    """The backup's age when the restore began: how far back in time the data went."""
    downloaded: bool
    """True when the backup was fetched from S3 because Weaviate no longer had it."""
    seconds: float
    """From the start (look-up included) to Weaviate's SUCCESS."""
    weaviate_seconds: float
    """From the restore request to Weaviate's SUCCESS."""
    collections: tuple[str, ...] = field(default=())


class BackupStore(Protocol):
    """Where backups are kept off Weaviate's volume: S3 (`S3BackupStore`), or a directory outside
    the cluster (drillbook.backup.weaviate_directory_store)."""

    def uri(self, backup_id: str = "") -> str: ...
    def ensure_bucket(self) -> None: ...
    def upload(self, backup_id: str, source: Path) -> tuple[int, int]: ...
    def backups(self) -> list[StoredBackup]: ...
    def find(self, backup_id: str) -> StoredBackup: ...
    def download(self, backup_id: str, target: Path) -> int: ...
    def delete(self, backup_id: str) -> None: ...


class S3BackupStore:
    """Backups under `s3://{bucket}/{prefix}{backup_id}/...`, through boto3."""

    def __init__(self, client: Any, *, bucket: str = BUCKET, prefix: str = PREFIX) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, bucket: str = BUCKET, prefix: str = PREFIX
    ) -> S3BackupStore:
        """A store reached with AWS_* settings from `env` (moto's endpoint on the stack)."""
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region_name=env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        )
        return cls(client, bucket=bucket, prefix=prefix)

    def uri(self, backup_id: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{backup_id}{'/' if backup_id else ''}"

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def upload(self, backup_id: str, source: Path) -> tuple[int, int]:
        """`aws s3 sync source s3://.../{backup_id}/`; returns (files, bytes)."""
        files = size = 0
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = f"{self.prefix}{backup_id}/{path.relative_to(source).as_posix()}"
            self.client.upload_file(str(path), self.bucket, key)
            files += 1
            size += path.stat().st_size
        return files, size

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        objects: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                objects.extend(page.get("Contents", []))
        except ClientError as exc:
            if _error_code(exc) == "NoSuchBucket":
                return []
            raise
        return objects

    def backups(self) -> list[StoredBackup]:
        """Every backup this module made, oldest first."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in self._objects(self.prefix):
            rest = str(item["Key"])[len(self.prefix) :]
            backup_id, _, _ = rest.partition("/")
            grouped.setdefault(backup_id, []).append(item)
        found = []
        for backup_id, items in grouped.items():
            created = backup_time(backup_id)
            if created is None:
                continue
            found.append(
                StoredBackup(
                    backup_id=backup_id,
                    created_at=created,
                    size_bytes=sum(int(i["Size"]) for i in items),
                    files=len(items),
                )
            )
        return sorted(found, key=lambda b: b.created_at)

    def find(self, backup_id: str) -> StoredBackup:
        """The named backup, or "latest"; BackupNotFound when there is none."""
        return find_backup(self.backups(), backup_id, self.uri())

    def download(self, backup_id: str, target: Path) -> int:
        """Fetch every file of a backup into `target` (written aside, then moved in place)."""
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        count = 0
        prefix = f"{self.prefix}{backup_id}/"
        for item in self._objects(prefix):
            relative = str(item["Key"])[len(prefix) :]
            if not relative or ".." in Path(relative).parts:
                continue
            destination = partial / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, str(item["Key"]), str(destination))
            count += 1
        partial.rename(target)
        return count

    def delete(self, backup_id: str) -> None:
        keys = [{"Key": i["Key"]} for i in self._objects(f"{self.prefix}{backup_id}/")]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000]}
            )


class WeaviateBackupApi:
    """The backup API of one Weaviate (filesystem backend), every wait bounded."""

    def __init__(
        self,
        endpoint: WeaviateEndpoint,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.timeout_seconds = timeout_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._http = httpx.Client(base_url=endpoint.url, timeout=10.0)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise WeaviateUnreachable(
                f"Weaviate at {self.endpoint.url} did not answer {method} {path}: "
                f"{type(exc).__name__}: {exc}; is it running (drillbook stack status)?"
            ) from None

    def wait_until_answering(self, timeout: float = ANSWER_TIMEOUT_SECONDS) -> None:
        """Poll until Weaviate answers ready (bounded): reached through a Kubernetes Service, a
        pod that just got Ready is routed to a moment later, once its endpoint is published."""

        def ready() -> bool:
            try:
                return self._http.get("/v1/.well-known/ready").status_code == 200
            except httpx.HTTPError:
                return False

        poll_until(
            ready,
            bool,
            timeout=timeout,
            interval=_POLL_SECONDS,
            give_up=lambda _: WeaviateUnreachable(
                f"Weaviate at {self.endpoint.url} did not answer ready within {timeout:.0f}s"
            ),
        )

    def collections(self) -> list[str]:
        response = self._request("GET", "/v1/schema")
        if response.status_code != 200:
            raise WeaviateUnreachable(
                f"Weaviate at {self.endpoint.url} answered GET /v1/schema with "
                f"HTTP {response.status_code}: {response.text[:300]}"
            )
        return [str(c["class"]) for c in response.json().get("classes") or []]

    def drop_collection(self, name: str) -> None:
        self._request("DELETE", f"/v1/schema/{name}")

    def start_backup(self, backup_id: str) -> list[str]:
        response = self._request("POST", f"/v1/backups/{BACKEND}", {"id": backup_id})
        if response.status_code != 200:
            raise BackupFailed(
                f"Weaviate refused backup {backup_id}: HTTP {response.status_code} "
                f"{_weaviate_error(response)}"
            )
        return [str(c) for c in response.json().get("classes") or []]

    def start_restore(self, backup_id: str) -> None:
        response = self._request("POST", f"/v1/backups/{BACKEND}/{backup_id}/restore", {})
        if response.status_code != 200:
            raise BackupFailed(
                f"Weaviate refused to restore backup {backup_id}: HTTP {response.status_code} "
                f"{_weaviate_error(response)}"
            )

    def wait(self, backup_id: str, *, restore: bool) -> float:
        """Poll the backup's (or its restore's) status until SUCCESS; returns seconds waited."""
        what = "restore of backup" if restore else "backup"
        path = f"/v1/backups/{BACKEND}/{backup_id}" + ("/restore" if restore else "")
        started = self._monotonic()
        deadline = started + self.timeout_seconds
        status = "?"
        while True:
            response = self._request("GET", path)
            if response.status_code == 200:
                document = response.json()
                status = str(document.get("status"))
                if status == _DONE:
                    return self._monotonic() - started
                if status in _FAILED:
                    raise BackupFailed(
                        f"Weaviate reports the {what} {backup_id} as {status}: "
                        f"{document.get('error') or 'no reason given'}"
                    )
            elif response.status_code != 404:  # 404: not registered yet, right after the POST
                raise BackupFailed(
                    f"status of the {what} {backup_id}: HTTP {response.status_code} "
                    f"{_weaviate_error(response)}"
                )
            if self._monotonic() >= deadline:
                raise BackupFailed(
                    f"the {what} {backup_id} did not finish within "
                    f"{self.timeout_seconds:.0f}s (last status {status})"
                )
            self._sleep(_POLL_SECONDS)


def create_backup(
    endpoint: WeaviateEndpoint,
    store: BackupStore,
    *,
    export_root: Path,
    now: datetime | None = None,
    retention_days: int = RETENTION_DAYS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> BackupResult:
    """Back Weaviate up, wait for SUCCESS, export the backup, upload it to S3, prune old ones."""
    taken = now or datetime.now(UTC)
    backup_id = backup_name(taken)
    started = time.monotonic()
    api = WeaviateBackupApi(endpoint, timeout_seconds=timeout_seconds)
    try:
        if not api.collections():
            raise BackupFailed(
                f"Weaviate at {endpoint.url} holds no collection: there is nothing to back up"
            )
        api.start_backup(backup_id)
        weaviate_seconds = api.wait(backup_id, restore=False)
    finally:
        api.close()
    source = endpoint.backup_path / backup_id
    _wait_for_final_config(source, backup_id)
    # The plan's `kubectl cp`: a copy outside Weaviate's volume, then the upload from there.
    export_dir = export_root / backup_id
    shutil.rmtree(export_dir, ignore_errors=True)
    shutil.copytree(source, export_dir)
    store.ensure_bucket()
    files, size = store.upload(backup_id, export_dir)
    pruned = prune_backups(
        store, now=taken, retention_days=retention_days, local_dirs=(export_root,)
    )
    return BackupResult(
        backup=StoredBackup(backup_id, backup_time(backup_id) or taken, size, files),
        s3_uri=store.uri(backup_id),
        export_dir=export_dir,
        seconds=time.monotonic() - started,
        weaviate_seconds=weaviate_seconds,
        pruned=tuple(pruned),
    )


def _wait_for_final_config(source: Path, backup_id: str, *, timeout: float = 10.0) -> None:
    """Wait until the backup on disk is the finished one (its config says SUCCESS).

    The API may say SUCCESS a moment before the coordinator has rewritten backup_config.json
    with the final status; an export taken in between would carry an unfinished backup.
    """
    config = source / "backup_config.json"

    def status() -> str:
        try:
            return str(json.loads(config.read_text()).get("status"))
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError):
            return "unreadable"

    poll_until(
        status,
        lambda seen: seen == _DONE,
        timeout=timeout,
        interval=_POLL_SECONDS,
        give_up=lambda seen: BackupFailed(
            f"Weaviate reported backup {backup_id} done but {config} is {seen} after "
            f"{timeout:.0f}s; is BACKUP_FILESYSTEM_PATH this directory on this machine?"
        ),
    )


def prune_backups(
    store: BackupStore,
    *,
    now: datetime,
    retention_days: int = RETENTION_DAYS,
    local_dirs: tuple[Path, ...] = (),
) -> list[str]:
    """Delete backups older than the retention from S3 and from the local export directories."""
    cutoff = now - timedelta(days=retention_days)
    pruned = [b.backup_id for b in store.backups() if b.created_at < cutoff]
    for backup_id in pruned:
        store.delete(backup_id)
    for directory in local_dirs:
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            created = backup_time(entry.name)
            if entry.is_dir() and created is not None and created < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                if entry.name not in pruned:
                    pruned.append(entry.name)
    return pruned


def restore_backup(
    endpoint: WeaviateEndpoint,
    store: BackupStore,
    *,
    backup_id: str = "latest",
    now: datetime | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> RestoreResult:
    """The plan's `restore_weaviate.sh --backup=latest`, through the backup API.

    Checked first, before Weaviate changes: the backup exists in S3, Weaviate answers, and none
    of the backup's collections exists in Weaviate (a restore never overwrites one: deleting it
    is a decision for a human, as it throws its data away).
    """
    started = time.monotonic()
    moment = now or datetime.now(UTC)
    backup = store.find(backup_id)
    api = WeaviateBackupApi(endpoint, timeout_seconds=timeout_seconds)
    try:
        api.wait_until_answering()
        existing = set(api.collections())
        local = endpoint.backup_path / backup.backup_id
        downloaded = False
        if not (local / "backup_config.json").is_file():
            shutil.rmtree(local, ignore_errors=True)
            endpoint.backup_path.mkdir(parents=True, exist_ok=True)
            store.download(backup.backup_id, local)
            downloaded = True
        collections = _backup_collections(local)
        clashing = sorted(existing & set(collections))
        if clashing:
            raise BackupFailed(
                f"cannot restore {backup.backup_id}: Weaviate already has the collection(s) "
                f"{', '.join(clashing)} and a restore never overwrites one. Nothing was changed. "
                "If their data is really lost, delete them first (DELETE /v1/schema/NAME)"
            )
        api.start_restore(backup.backup_id)
        try:
            weaviate_seconds = api.wait(backup.backup_id, restore=True)
        except WeaviateBackupError:
            _remove_partial_restore(api, collections)
            raise
    finally:
        api.close()
    return RestoreResult(
        backup=backup,
        age_seconds=backup.age_seconds(moment),
        downloaded=downloaded,
        seconds=time.monotonic() - started,
        weaviate_seconds=weaviate_seconds,
        collections=tuple(collections),
    )


def _remove_partial_restore(api: WeaviateBackupApi, collections: list[str]) -> None:
    # None of these existed before the restore began (checked above), so whatever of them a
    # failed restore left behind is its own half-work: remove it, Weaviate is left as it was.
    # (Weaviate 1.39 already cleans up after itself; this covers versions that do not.)
    with contextlib.suppress(WeaviateUnreachable):
        for name in set(api.collections()) & set(collections):
            api.drop_collection(name)


def _backup_collections(local: Path) -> list[str]:
    config = local / "backup_config.json"
    try:
        document = json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise BackupFailed(
            f"backup {local.name} is unusable: {config} cannot be read ({exc}); restore an "
            "older backup with --backup NAME"
        ) from None
    nodes = document.get("nodes") or {}
    classes: set[str] = set()
    for node in nodes.values() if isinstance(nodes, dict) else ():
        classes.update(str(c) for c in node.get("classes") or [])
    classes.update(str(c) for c in document.get("classes") or [])
    return sorted(classes)


def _weaviate_error(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.text[:300]
    errors = document.get("error") if isinstance(document, dict) else None
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) for e in errors)[:300]
    return json.dumps(document)[:300]


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class VectorStoreBackups:
    """One Weaviate's backups, remembering what was created and restored (for the report)."""

    def __init__(
        self,
        endpoint: WeaviateEndpoint,
        store: BackupStore,
        *,
        export_root: Path,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.endpoint = endpoint
        self.store = store
        self.export_root = export_root
        self.timeout_seconds = timeout_seconds
        self.created: list[BackupResult] = []
        self.restored: list[RestoreResult] = []
        self.created_at_monotonic: list[float] = []
        """When each backup was requested, on the monotonic clock the drill measures with."""

    def create(self) -> BackupResult:
        """The plan's backup procedure, now (never reusing a name taken in the same second)."""
        latest = self.created[-1].backup.backup_id if self.created else None
        now = datetime.now(UTC)
        if latest is not None and backup_name(now) == latest:
            # Names have a resolution of one second; wait for the next one.
            time.sleep(1.0 - now.microsecond / 1_000_000 + 0.01)
            now = datetime.now(UTC)
        requested = time.monotonic()
        result = create_backup(
            self.endpoint,
            self.store,
            export_root=self.export_root,
            now=now,
            timeout_seconds=self.timeout_seconds,
        )
        self.created.append(result)
        self.created_at_monotonic.append(requested)
        return result

    def restore(self, backup_id: str = "latest") -> RestoreResult:
        result = restore_backup(
            self.endpoint, self.store, backup_id=backup_id, timeout_seconds=self.timeout_seconds
        )
        self.restored.append(result)
        return result

    def figures(self) -> dict[str, object]:
        figures: dict[str, object] = {}
        if self.created:
            made = self.created[-1]
            figures["backup_created"] = {
                "id": made.backup.backup_id,
                "size_bytes": made.backup.size_bytes,
                "files": made.backup.files,
                "s3_uri": made.s3_uri,
                "seconds": round(made.seconds, 3),
                "weaviate_seconds": round(made.weaviate_seconds, 3),
                "pruned": list(made.pruned),
            }
        if self.restored:
            used = self.restored[-1]
            figures["backup_used"] = {
                "id": used.backup.backup_id,
                "age_seconds": round(used.age_seconds, 3),
                "size_bytes": used.backup.size_bytes,
                "files": used.backup.files,
                "downloaded_from_s3": used.downloaded,
            }
            figures["restore_seconds"] = round(used.seconds, 3)
            figures["restore_weaviate_seconds"] = round(used.weaviate_seconds, 3)
        return figures
