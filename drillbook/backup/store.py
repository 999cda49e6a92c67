"""Database dumps in S3: `s3://eleanor-backups/database/eleanor-v8-YYYYmmdd-HHMMSS.sql.gz`.

boto3 against real S3 in production, against the embedded stack's moto server locally: the same
calls either way. A dump's time is the one in its name (UTC), which is what the plan's 30-day
retention and daily schedule count from; its sha256 travels as object metadata so a download
can prove it is the file that was uploaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from drillbook.backup.errors import (
    BackupCorrupt,
    BackupError,
    BackupNotFound,
    BackupStoreUnreachable,
)
from drillbook.config.model import BackupSettings

NAME_TIME_FORMAT = "%Y%m%d-%H%M%S"
SUFFIX = ".sql.gz"


def backup_name(name_prefix: str, at: datetime) -> str:
    """The plan's name: `eleanor-v8-$(date +%Y%m%d-%H%M%S)` plus `.sql.gz`, in UTC."""
    return f"{name_prefix}-{at.astimezone(UTC).strftime(NAME_TIME_FORMAT)}{SUFFIX}"


def backup_time(name_prefix: str, name: str) -> datetime | None:
    """When a dump named by `backup_name` was taken; None for names that are not ours."""
    match = re.fullmatch(re.escape(name_prefix) + r"-(\d{8}-\d{6})" + re.escape(SUFFIX), name)
    if match is None:
        return None
    return datetime.strptime(match[1], NAME_TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredBackup:
    """One dump in the store."""

    name: str
    key: str
    taken_at: datetime
    size_bytes: int
    sha256: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.taken_at).total_seconds()

    def figures(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "taken_at": self.taken_at.isoformat(),
            "age_seconds": round(self.age_seconds(now), 3),
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
        }


class BackupStore:
    """The dumps under one bucket and prefix."""

    def __init__(
        self,
        settings: BackupSettings,
        *,
        endpoint_url: str | None = None,
        credentials: Mapping[str, str] | None = None,
        create_bucket: bool = False,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.endpoint_url = endpoint_url or settings.endpoint_url
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._create_bucket = create_bucket
        creds = dict(credentials or {})
        self._client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=creds.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY"),
            config=Config(
                connect_timeout=timeout_seconds,
                read_timeout=max(timeout_seconds, 30.0),
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    @property
    def where(self) -> str:
        place = f"s3://{self.bucket}/{self.prefix}"
        return place + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def _unreachable(self, exc: Exception) -> BackupStoreUnreachable:
        return BackupStoreUnreachable(
            f"the backup store {self.where} did not answer ({type(exc).__name__}: {exc}); check "
            "that S3 is reachable (on the embedded stack: its moto server, component 'aws') and "
            "backup.endpoint_url"
        )

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except (EndpointConnectionError, BotoCoreError) as exc:
            raise self._unreachable(exc) from None

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _ensure_bucket(self) -> None:
        try:
            self._call("head_bucket", Bucket=self.bucket)
        except ClientError:
            if not self._create_bucket:
                raise BackupError(
                    f"the backup bucket {self.bucket} does not exist; create it (the plan's "
                    "backups go to s3://eleanor-backups/database/) or set backup.bucket"
                ) from None
            self._call("create_bucket", Bucket=self.bucket)

    def backups(self) -> list[StoredBackup]:
        """Every dump of ours in the store, oldest first (other objects are ignored)."""
        found: list[StoredBackup] = []
        token: str | None = None
        for _ in range(10_000):  # pages of 1000: bounded far beyond 30 days of backups
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                page = self._call("list_objects_v2", **kwargs)
            except ClientError as exc:
                if _code(exc) == "NoSuchBucket":
                    return []
                raise BackupError(f"listing {self.where} failed: {exc}") from None
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(self.prefix) :]
                taken = backup_time(self.settings.name_prefix, name)
                if taken is not None:
                    found.append(StoredBackup(name, str(item["Key"]), taken, int(item["Size"])))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        return sorted(found, key=lambda b: b.taken_at)

    def describe(self, name: str) -> StoredBackup:
        """One dump with its metadata (sha256), or BackupNotFound naming what exists."""
        taken = backup_time(self.settings.name_prefix, name)
        if taken is None:
            raise BackupNotFound(
                f"{name!r} is not a backup name; expected "
                f"{self.settings.name_prefix}-YYYYmmdd-HHMMSS{SUFFIX} or 'latest'"
            )
        try:
            head = self._call("head_object", Bucket=self.bucket, Key=self.key(name))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NoSuchBucket"):
                raise self._not_found(name) from None
            raise BackupError(f"reading {self.key(name)} failed: {exc}") from None
        metadata = {str(k): str(v) for k, v in head.get("Metadata", {}).items()}
        return StoredBackup(
            name,
            self.key(name),
            taken,
            int(head["ContentLength"]),
            metadata.get("sha256"),
            metadata,
        )

    def _not_found(self, name: str | None) -> BackupNotFound:
        existing = [b.name for b in self.backups()]
        wanted = f"no backup named {name}" if name else "no backup"
        have = f"the store holds: {', '.join(existing[-5:])}" if existing else "the store is empty"
        return BackupNotFound(
            f"{wanted} in {self.where}; {have}. Take one with: drillbook backup database"
        )

    def newest(self) -> StoredBackup:
        backups = self.backups()
        if not backups:
            raise self._not_found(None)
        return self.describe(backups[-1].name)

    def resolve(self, backup: str) -> StoredBackup:
        """'latest' or a name."""
        return self.newest() if backup == "latest" else self.describe(backup)

    def exists(self, name: str) -> bool:
        try:
            self.describe(name)
        except BackupNotFound:
            return False
        return True

    def upload(self, path: Path, name: str, metadata: Mapping[str, str]) -> StoredBackup:
        self._ensure_bucket()
        with open(path, "rb") as fh:
            self._call(
                "put_object",
                Bucket=self.bucket,
                Key=self.key(name),
                Body=fh,
                Metadata=dict(metadata),
                ContentType="application/gzip",
            )
        return self.describe(name)

    def download(self, backup: StoredBackup, target: Path) -> Path:
        """Fetch a dump and prove it is the one uploaded (sha256), or BackupCorrupt."""
        try:
            response = self._call("get_object", Bucket=self.bucket, Key=backup.key)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                raise self._not_found(backup.name) from None
            raise BackupError(f"downloading {backup.key} failed: {exc}") from None
        digest = hashlib.sha256()
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "wb") as out:
                body = response["Body"]
                for chunk in iter(lambda: body.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (BotoCoreError, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise self._unreachable(exc) from None
        if backup.sha256 and digest.hexdigest() != backup.sha256:
            partial.unlink(missing_ok=True)
            raise BackupCorrupt(
                f"backup {backup.name} is corrupt: its sha256 is {digest.hexdigest()}, but "
                f"{backup.sha256} was recorded when it was uploaded; restore another one "
                "(--backup NAME) and find out what damaged this one"
            )
        partial.replace(target)
        return target

    def delete(self, name: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=self.key(name))

    def enforce_retention(self, now: datetime, retention: timedelta) -> list[str]:
        """Delete dumps older than `retention` (by the time in their name); returns them."""
        expired = [b.name for b in self.backups() if now - b.taken_at > retention]
        for name in expired:
            self.delete(name)
        return expired


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
