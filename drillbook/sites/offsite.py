"""The off-site object store of a two-site deployment: S3 in another region, moto on loopback here.

It is what survives the loss of a whole site: the primary's WAL (shipped file by file by
`drillbook.sites.wal_shipper`), its base backups, dumps and Weaviate backup directories, all
under one deployment's prefix:

    s3://<bucket>/<prefix>/wal/<WAL file name>          one object per archived WAL file
    s3://<bucket>/<prefix>/base/<label>/<file>          a `pg_basebackup -Ft` output directory
    s3://<bucket>/<prefix>/base/<label>/COMPLETE        written last: the backup is whole
    s3://<bucket>/<prefix>/<key>                        anything else (dumps, Weaviate backups)

Every object carries the sha256 of its content as metadata, so whatever is fetched on the DR
site is proved to be what the primary uploaded. An archived WAL file is immutable: a second
upload under its name with other content is refused (`WalConflict`), never written over the
first. Transport failures (connection refused, timeouts: a drill that cut the site's link) are
one `BackupStoreUnreachable` naming the endpoint.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from drillbook.backup.errors import (
    BackupCorrupt,
    BackupError,
    BackupNotFound,
    BackupStoreUnreachable,
)
from drillbook.backup.wal import is_wal_file
from drillbook.stack.services.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from drillbook.stack.services.postgres import ARCHIVE_TEMPORARY_PREFIX

DEFAULT_BUCKET = "drillbook-offsite"
WAL_DIR = "wal"
BASE_DIR = "base"
COMPLETE_MARKER = "COMPLETE"
"""The object written after every file of a base backup: without it the backup is not whole."""
RESERVED_DIRS = (WAL_DIR, BASE_DIR)
"""Key prefixes only push_wal and upload_base_backup write, so their rules cannot be bypassed."""
SHA256_METADATA = "sha256"
TEMPORARY_PREFIX = ARCHIVE_TEMPORARY_PREFIX
"""Downloads are written under this hidden name and renamed into place: whatever reads the
target directory (restore_command reading a WAL archive) never sees half a file."""

BACKUP_LABEL_NAME = re.compile(r"[0-9A-F]{24}\.[0-9A-F]{8}\.backup")
"""The backup history file pg_stop_backup archives: <segment>.<offset>.backup."""
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LIST_PAGES = 10_000
"""Pages of 1000 keys: bounded far beyond any drill's archive."""
_CHUNK = 1 << 20
_session: Any = None
"""One boto3 session for every client, made on first use: it caches the service model, which
each new session reloads (tens of milliseconds per client)."""
_SESSION_LOCK = threading.Lock()
_ALREADY_THERE = ("412", "PreconditionFailed", "ConditionalRequestConflict")
"""A conditional PUT found the key taken (409 ConditionalRequestConflict: a race in flight)."""
_TRANSPORT_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError)
"""What a refused connection, a timeout or a link cut mid-transfer raises."""


def is_archive_name(name: str) -> bool:
    """A file a WAL archive holds: a segment (or `.partial`), a `.history` or a `.backup` file."""
    return is_wal_file(name) or BACKUP_LABEL_NAME.fullmatch(name) is not None


class WalConflict(BackupError):
    """A WAL file of that name is already off-site with other content; it is never overwritten."""


@dataclass(frozen=True)
class OffsiteBaseBackup:
    """One complete base backup in the off-site store (its COMPLETE marker says what it holds)."""

    label: str
    taken_at: datetime
    files: tuple[str, ...]
    size_bytes: int
    checksums: Mapping[str, str] = field(default_factory=dict)
    """File name -> sha256, as recorded in the marker when the backup was uploaded."""


@dataclass(frozen=True, kw_only=True)
class OffsiteStore:
    """One deployment's part of the off-site bucket.

    Keyword-only: bucket and prefix are both strings, and swapping them would silently write
    into the wrong place.
    """

    endpoint_url: str
    bucket: str = DEFAULT_BUCKET
    prefix: str
    timeout_seconds: float = 5.0
    """Connect timeout (reads get at least 30 s): a cut link must fail fast, not hang a drill."""
    _clients: threading.local = field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )
    """This store's own client, one per thread: see `_s3`."""

    def __post_init__(self) -> None:
        parts = self.prefix.split("/")
        if not self.prefix or any(part in ("", ".", "..") for part in parts):
            raise BackupError(
                f"the off-site prefix {self.prefix!r} is not a key prefix; expected a name "
                "like 'deployment-ab12cd' (no leading, trailing or doubled '/')"
            )

    # --- connection -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}/ at {self.endpoint_url}"

    @property
    def _s3(self) -> Any:
        """The client of the calling thread, made on its first call.

        Not one client for all threads: Linux keeps the network namespace per thread, and a
        site's code runs in a thread inside the site's namespace (drillbook.sites.namespace).
        A pooled keep-alive connection opened from the root namespace and reused by a site's
        thread would carry that site's traffic past a link a drill has cut.
        """
        client = getattr(self._clients, "s3", None)
        if client is None:
            client = self.client()
            self._clients.s3 = client
        return client

    def client(self) -> Any:
        """A new boto3 S3 client (moto's dummy credentials, short timeouts, limited retries).

        New on every call, its connections opened by the thread that uses it: use it from one
        site (one thread) only, for the reason given in `_s3`.
        """
        return _s3_client(
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(
                connect_timeout=self.timeout_seconds,
                read_timeout=max(self.timeout_seconds, 30.0),
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def env(self) -> dict[str, str]:
        """What a child process's boto3 or aws CLI needs to reach this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def _unreachable(self, exc: Exception) -> BackupStoreUnreachable:
        return BackupStoreUnreachable(
            f"the off-site store at {self.endpoint_url} is unreachable "
            f"({type(exc).__name__}: {exc}); expected its S3 server to answer. Check that it "
            "runs and that this site's link to it is up (a drill that cut the link expects this)"
        )

    def _no_bucket(self) -> BackupError:
        return BackupError(
            f"the off-site bucket {self.bucket} does not exist at {self.endpoint_url}; create "
            "it with OffsiteStore.ensure_bucket() (the deployment does when it starts) or check "
            "the bucket name"
        )

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One S3 call; transport failures become BackupStoreUnreachable. A ClientError (404,
        412, ...) is the caller's to judge, and to pass to `_failed` when it is not expected."""
        try:
            return getattr(self._s3, operation)(**kwargs)
        except _TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc) from None
        except BotoCoreError as exc:
            raise BackupError(f"S3 call {operation} on {self.where} failed: {exc}") from None

    def _failed(self, action: str, exc: ClientError) -> BackupError:
        if _code(exc) == "NoSuchBucket":
            return self._no_bucket()
        return BackupError(
            f"{action} in {self.where} failed: {exc}; expected the S3 server to accept it: "
            "check its log"
        )

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (every deployment shares it, by prefix)."""
        try:
            self._call("head_bucket", Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._failed("checking the bucket", exc) from None
        try:
            self._call("create_bucket", Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._failed("creating the bucket", exc) from None

    # --- keys and objects -------------------------------------------------------------------

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"

    def _list(self, under: str) -> list[dict[str, Any]]:
        """Every object whose key starts with `<prefix>/<under>` (pages followed, bounded)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(_LIST_PAGES):
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(under)}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                page = self._call("list_objects_v2", **kwargs)
            except ClientError as exc:
                raise self._failed("listing", exc) from None
            found.extend(page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        return found

    def _head(self, relative: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._call(
                "head_object", Bucket=self.bucket, Key=self._key(relative)
            )
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._failed(f"reading {relative}", exc) from None
        return head

    def _put(
        self, relative: str, body: Any, metadata: Mapping[str, str], *, only_new: bool = False
    ) -> bool:
        """One PUT; False (nothing written) if `only_new` and the key exists already.

        `only_new` is S3's conditional write (If-None-Match: *), so two writers racing cannot
        replace each other's object. One PUT takes objects up to 5 GB, far beyond a drill's
        cluster; S3 replaces an object atomically: a reader sees the old one or the new one.
        """
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if only_new else {}
        try:
            self._call(
                "put_object",
                Bucket=self.bucket,
                Key=self._key(relative),
                Body=body,
                Metadata=dict(metadata),
                **extra,
            )
        except ClientError as exc:
            if only_new and _code(exc) in _ALREADY_THERE:
                return False
            raise self._failed(f"uploading {relative}", exc) from None
        return True

    def _put_file(self, path: Path, relative: str, digest: str, *, only_new: bool = False) -> bool:
        """Upload a file with its sha256 as metadata (see `_put`)."""
        with open(path, "rb") as fh:
            return self._put(relative, fh, {SHA256_METADATA: digest}, only_new=only_new)

    def _download(self, relative: str, target: Path, expected: str | None = None) -> Path:
        """Fetch an object to `target` (through a temporary name) and prove its sha256.

        The content must match the sha256 recorded as the object's metadata and, when given,
        `expected` (a base backup's marker); otherwise BackupCorrupt and nothing is left.
        """
        try:
            response = self._call("get_object", Bucket=self.bucket, Key=self._key(relative))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                raise BackupNotFound(
                    f"{relative} is not in the off-site store {self.where}; list what is "
                    "there with OffsiteStore.keys()"
                ) from None
            raise self._failed(f"downloading {relative}", exc) from None
        recorded = response.get("Metadata", {}).get(SHA256_METADATA)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(TEMPORARY_PREFIX + target.name)
        try:
            digest = _stream(response["Body"], partial)
        except BaseException as exc:  # nothing half-written is left, whatever stopped us
            partial.unlink(missing_ok=True)
            if isinstance(exc, _TRANSPORT_ERRORS):
                raise self._unreachable(exc) from None
            if isinstance(exc, OSError):
                raise BackupError(
                    f"could not write {target} while downloading {relative} ({exc}); free "
                    "space there or fix its permissions"
                ) from None
            raise
        problem = _checksum_problem(digest, recorded, expected)
        if problem is not None:
            partial.unlink(missing_ok=True)
            raise BackupCorrupt(
                f"{relative} in the off-site store {self.where} is corrupt: {problem}. Do not "
                "restore from it: upload it again from a good copy, or restore from another "
                "backup"
            )
        partial.replace(target)
        return target

    # --- WAL --------------------------------------------------------------------------------

    def push_wal(self, path: Path, name: str) -> bool:
        """Ship one archived WAL file: True if uploaded, False if already there (same sha256).

        Another object under that name with other content is a WalConflict: an archived
        segment is immutable, and the copy off-site may be the only one left after a site loss.
        The upload itself is conditional (If-None-Match), so two shippers racing cannot
        overwrite each other either.
        """
        if not is_archive_name(name):
            raise BackupError(
                f"{name!r} is not a WAL archive file name; expected a segment like "
                "000000010000000000000001 (or its .partial), a NNNNNNNN.history or a "
                "<segment>.<offset>.backup file"
            )
        relative = f"{WAL_DIR}/{name}"
        digest = sha256_file(path)
        existing = self._head(relative)
        if existing is None:
            if self._put_file(path, relative, digest, only_new=True):
                return True
            existing = self._head(relative)  # another shipper uploaded it meanwhile
            if existing is None:
                raise BackupError(f"uploading {relative} to {self.where} failed; try again")
        theirs = existing.get("Metadata", {}).get(SHA256_METADATA)
        if theirs == digest:
            return False
        raise WalConflict(
            f"WAL file {name} is already in the off-site store {self.where} with other content "
            f"(sha256 {theirs or 'not recorded'} there, {digest} in {path}); an archived WAL "
            "file is never overwritten. Two clusters are archiving under one prefix, or one "
            "copy is damaged: compare both, and give every deployment its own prefix"
        )

    def _wal_objects(self) -> list[dict[str, Any]]:
        head = self._key(f"{WAL_DIR}/")
        return [o for o in self._list(f"{WAL_DIR}/") if is_archive_name(o["Key"][len(head) :])]

    def wal_names(self) -> list[str]:
        """The WAL files off-site, sorted by name (within a timeline: in WAL order)."""
        head = len(self._key(f"{WAL_DIR}/"))
        return sorted(str(o["Key"])[head:] for o in self._wal_objects())

    def newest_wal(self) -> tuple[str, datetime] | None:
        """The WAL file uploaded last and when (UTC): how far behind the primary the DR site
        could be after a site loss. Ties (S3 keeps seconds) go to the later name."""
        head = len(self._key(f"{WAL_DIR}/"))
        stamped = [
            (o["LastModified"].astimezone(UTC), str(o["Key"])[head:]) for o in self._wal_objects()
        ]
        if not stamped:
            return None
        uploaded, name = max(stamped)
        return name, uploaded

    def fetch_all_wal(self, target: Path) -> list[str]:
        """Download every WAL file off-site into `target` (each verified); returns their names."""
        target.mkdir(parents=True, exist_ok=True)
        names = self.wal_names()
        for name in names:
            self._download(f"{WAL_DIR}/{name}", target / name)
        return names

    # --- base backups -----------------------------------------------------------------------

    def upload_base_backup(
        self, directory: Path, label: str, *, taken_at: datetime | None = None
    ) -> OffsiteBaseBackup:
        """Upload a `pg_basebackup -Ft` output directory, then its COMPLETE marker.

        The marker goes last and lists every file with its size and sha256: a backup cut short
        (the site lost mid-upload) has no marker and is never chosen. A complete backup is
        immutable: its label cannot be used again.
        """
        if LABEL.fullmatch(label) is None:
            raise BackupError(
                f"{label!r} is not a base backup label; expected letters, digits, '.', '_' "
                "or '-' (no '/'), e.g. base-20261127-154000"
            )
        files = _base_backup_files(directory)
        marker = f"{BASE_DIR}/{label}/{COMPLETE_MARKER}"
        if self._head(marker) is not None:
            raise BackupError(
                f"a complete base backup labelled {label} is already in {self.where}; a "
                "backup is never replaced: choose a new label"
            )
        record: dict[str, dict[str, Any]] = {}
        for path in files:
            digest = sha256_file(path)
            self._put_file(path, f"{BASE_DIR}/{label}/{path.name}", digest)
            record[path.name] = {"size_bytes": path.stat().st_size, "sha256": digest}
        backup = OffsiteBaseBackup(
            label=label,
            taken_at=(taken_at or datetime.now(UTC)).astimezone(UTC),
            files=tuple(sorted(record)),
            size_bytes=sum(int(r["size_bytes"]) for r in record.values()),
            checksums={name: str(r["sha256"]) for name, r in record.items()},
        )
        body = json.dumps(
            {"label": label, "taken_at": backup.taken_at.isoformat(), "files": record},
            sort_keys=True,
        ).encode()
        if not self._put(marker, body, {}, only_new=True):
            raise BackupError(
                f"another upload completed a base backup labelled {label} in {self.where} "
                "while this one ran; a backup is never replaced: upload again with a new label"
            )
        return backup

    def _base_listing(self) -> tuple[list[OffsiteBaseBackup], list[str]]:
        """(complete backups oldest first, labels of incomplete ones)."""
        head = len(self._key(f"{BASE_DIR}/"))
        labels: dict[str, set[str]] = {}
        for item in self._list(f"{BASE_DIR}/"):
            label, _, name = str(item["Key"])[head:].partition("/")
            labels.setdefault(label, set()).add(name)
        complete: list[OffsiteBaseBackup] = []
        incomplete: list[str] = []
        for label in sorted(labels):
            backup = self._read_marker(label) if COMPLETE_MARKER in labels[label] else None
            if backup is None:
                incomplete.append(label)
            else:
                complete.append(backup)
        return sorted(complete, key=lambda b: (b.taken_at, b.label)), incomplete

    def _read_marker(self, label: str) -> OffsiteBaseBackup | None:
        """The backup a COMPLETE marker describes; None if it is not one of ours (unreadable)."""
        marker = f"{BASE_DIR}/{label}/{COMPLETE_MARKER}"
        try:
            response = self._call("get_object", Bucket=self.bucket, Key=self._key(marker))
            raw = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                return None
            raise self._failed(f"reading {marker}", exc) from None
        except _TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc) from None
        try:
            data = json.loads(raw)
            files = {str(n): dict(r) for n, r in data["files"].items()}
            return OffsiteBaseBackup(
                label=label,
                taken_at=datetime.fromisoformat(data["taken_at"]).astimezone(UTC),
                files=tuple(sorted(files)),
                size_bytes=sum(int(r["size_bytes"]) for r in files.values()),
                checksums={n: str(r["sha256"]) for n, r in files.items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def base_backups(self) -> list[OffsiteBaseBackup]:
        """The complete base backups off-site, oldest first."""
        return self._base_listing()[0]

    def newest_base_backup(self) -> OffsiteBaseBackup:
        complete, incomplete = self._base_listing()
        if complete:
            return complete[-1]
        partial = (
            f"; {len(incomplete)} incomplete one(s) without a {COMPLETE_MARKER} marker "
            f"({', '.join(incomplete[-5:])}) were cut short and cannot be used"
            if incomplete
            else ""
        )
        raise BackupNotFound(
            f"no complete base backup in {self.where}{partial}. Take one on the primary "
            "(pg_basebackup -Ft) and upload it with OffsiteStore.upload_base_backup"
        )

    def download_base_backup(self, backup: OffsiteBaseBackup, target: Path) -> Path:
        """Download every file of a base backup into `target` (each verified); returns it."""
        target.mkdir(parents=True, exist_ok=True)
        for name in backup.files:
            self._download(
                f"{BASE_DIR}/{backup.label}/{name}", target / name, backup.checksums.get(name)
            )
        return target

    # --- other files (dumps, Weaviate backup directories) -----------------------------------

    def _relative(self, key: str) -> str:
        """A key relative to the deployment's prefix ('dumps/x.dump').

        The prefix is always added here, so no caller can write outside its deployment; a key
        that already starts with `<prefix>/` is taken as the full key rather than nested a
        second time under the prefix.
        """
        relative = _relative_key(key)
        return relative.removeprefix(f"{self.prefix}/") if relative != self.prefix else relative

    def upload_file(self, path: Path, key: str) -> None:
        """Upload a file to `<prefix>/<key>` (replacing what was there) with its sha256.

        Keys of these methods are relative to the prefix (see `_relative`), as `keys` returns
        them.
        """
        relative = self._relative(key)
        if relative.split("/")[0] in RESERVED_DIRS:
            raise BackupError(
                f"the key {key!r} is under {relative.split('/')[0]}/, which only push_wal and "
                "upload_base_backup write (they keep WAL immutable and backups whole); "
                "choose another key, e.g. dumps/<name>"
            )
        self._put_file(path, relative, sha256_file(path))

    def download_file(self, key: str, target: Path) -> Path:
        """Download `<prefix>/<key>` to `target`, verified against its sha256."""
        return self._download(self._relative(key), target)

    def keys(self, under: str = "") -> list[str]:
        """Keys (relative to the prefix) below `under` (a folder: 'dumps' lists 'dumps/...')."""
        folder = f"{self._relative(under)}/" if under.strip("/") else ""
        head = len(self._key(""))
        return sorted(str(o["Key"])[head:] for o in self._list(folder))

    def upload_tree(self, directory: Path, key_prefix: str) -> list[str]:
        """Upload every file below `directory` to `<key_prefix>/<its relative path>`."""
        folder = self._relative(key_prefix)
        if not directory.is_dir():
            raise BackupError(f"{directory} is not a directory; expected one to upload")
        uploaded: list[str] = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = f"{folder}/{path.relative_to(directory).as_posix()}"
            self.upload_file(path, key)
            uploaded.append(key)
        return uploaded

    def download_tree(self, key_prefix: str, target: Path) -> list[Path]:
        """Download every object below `key_prefix` into `target`, keeping relative paths."""
        folder = self._relative(key_prefix)
        keys = self.keys(folder)
        if not keys:
            raise BackupNotFound(
                f"nothing under {folder}/ in the off-site store {self.where}; upload it with "
                "OffsiteStore.upload_tree, or list what is there with OffsiteStore.keys()"
            )
        written: list[Path] = []
        for key in keys:
            inside = _relative_key(key[len(folder) + 1 :])  # refuses '..': stays in target
            written.append(self._download(key, target / inside))
        return written


def _s3_client(**kwargs: Any) -> Any:
    global _session
    with _SESSION_LOCK:  # a session must not make clients in two threads at once
        if _session is None:
            _session = boto3.session.Session()
        return _session.client("s3", **kwargs)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(body: Any, path: Path) -> str:
    """Write a response body to `path` (flushed to disk); returns its sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
    return digest.hexdigest()


def _checksum_problem(digest: str, recorded: str | None, expected: str | None) -> str | None:
    if recorded is None:
        return "no sha256 was recorded with it, so it cannot be verified"
    if digest != recorded:
        return f"its sha256 is {digest}, but {recorded} was recorded when it was uploaded"
    if expected is not None and expected != recorded:
        return f"its sha256 is {recorded}, but the backup's marker records {expected}"
    return None


def _relative_key(key: str) -> str:
    """A key below the prefix: no leading '/', no empty, '.' or '..' parts."""
    stripped = key.strip("/")
    if not stripped or any(part in ("", ".", "..") for part in stripped.split("/")):
        raise BackupError(
            f"{key!r} is not a usable key; expected a relative path like dumps/eleanor.sql.gz "
            "(no empty, '.' or '..' parts)"
        )
    return stripped


def _base_backup_files(directory: Path) -> list[Path]:
    """The files of a `pg_basebackup -Ft` directory (base.tar[.gz], pg_wal.tar, ...)."""
    if not directory.is_dir():
        raise BackupError(
            f"{directory} is not a directory; expected the output of pg_basebackup -Ft -D DIR"
        )
    files = sorted(p for p in directory.iterdir() if p.is_file())
    if not any(p.name.startswith("base.tar") for p in files):
        found = ", ".join(p.name for p in files) or "nothing"
        raise BackupError(
            f"{directory} holds {found}, not a base backup; expected base.tar (and "
            "pg_wal.tar, backup_manifest) from pg_basebackup -Ft -D DIR"
        )
    return files


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
