"""Dumps in S3 (a real moto server on loopback): names, retention, checksums, bad input."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drillbook.backup.dump import verify_gzip
from drillbook.backup.errors import BackupCorrupt, BackupNotFound, BackupStoreUnreachable
from drillbook.backup.store import BackupStore, backup_name, backup_time
from drillbook.config.model import BackupSettings
from drillbook.platforms.ports import free_ports
from drillbook.stack.services.moto import aws_env

NOW = datetime(2026, 11, 27, 15, 40, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3() -> Iterator[int]:
    from moto.server import ThreadedMotoServer

    port = free_ports(1)[0]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def store(port: int, prefix: str) -> BackupStore:
    return BackupStore(
        BackupSettings(prefix=prefix),
        endpoint_url=f"http://127.0.0.1:{port}",
        credentials=aws_env(port),
        create_bucket=True,
    )


def dump_file(tmp_path: Path, text: str = "SELECT 1;\n") -> Path:
    path = tmp_path / "dump.sql.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def test_the_plans_backup_name() -> None:
    name = backup_name("eleanor-v8", NOW)

    assert name == "eleanor-v8-20261127-154000.sql.gz"
    assert backup_time("eleanor-v8", name) == NOW
    assert backup_time("eleanor-v8", "weaviate-20261127-154000") is None
    assert backup_time("eleanor-v8", "eleanor-v8-latest.sql.gz") is None


def test_upload_list_and_newest(s3: int, tmp_path: Path) -> None:
    backups = store(s3, "list/")
    path = dump_file(tmp_path)
    older = backups.upload(
        path, backup_name("eleanor-v8", NOW - timedelta(days=1)), {"sha256": "x"}
    )
    newer = backups.upload(path, backup_name("eleanor-v8", NOW), {"sha256": "y"})

    assert [b.name for b in backups.backups()] == [older.name, newer.name]
    newest = backups.newest()
    assert newest.name == newer.name and newest.sha256 == "y"
    assert newest.size_bytes == path.stat().st_size
    assert newest.key == f"list/{newer.name}"
    assert backups.resolve(older.name).name == older.name


def test_retention_deletes_only_our_backups_older_than_30_days(s3: int, tmp_path: Path) -> None:
    backups = store(s3, "retention/")
    path = dump_file(tmp_path)
    for days in (31, 29, 0):
        backups.upload(path, backup_name("eleanor-v8", NOW - timedelta(days=days)), {})
    backups._call(  # someone else's object under the prefix: never ours to delete
        "put_object", Bucket=backups.bucket, Key="retention/notes.txt", Body=b"keep"
    )

    deleted = backups.enforce_retention(NOW, timedelta(days=30))

    assert deleted == [backup_name("eleanor-v8", NOW - timedelta(days=31))]
    assert [b.name for b in backups.backups()] == [
        backup_name("eleanor-v8", NOW - timedelta(days=29)),
        backup_name("eleanor-v8", NOW),
    ]
    head = backups._call("head_object", Bucket=backups.bucket, Key="retention/notes.txt")
    assert head["ContentLength"] == 4


def test_no_backup_is_one_clear_error(s3: int) -> None:
    with pytest.raises(BackupNotFound) as info:
        store(s3, "empty/").newest()

    assert "no backup in s3://eleanor-backups/empty/" in str(info.value)
    assert "the store is empty" in str(info.value)
    assert "drillbook backup database" in str(info.value)


def test_an_unknown_name_lists_what_exists(s3: int, tmp_path: Path) -> None:
    backups = store(s3, "named/")
    backups.upload(dump_file(tmp_path), backup_name("eleanor-v8", NOW), {})

    with pytest.raises(BackupNotFound, match=r"eleanor-v8-20261127-154000\.sql\.gz"):
        backups.describe(backup_name("eleanor-v8", NOW - timedelta(days=3)))
    with pytest.raises(BackupNotFound, match="not a backup name"):
        backups.describe("yesterday.tar")


def test_a_download_that_does_not_match_its_checksum_is_corrupt(s3: int, tmp_path: Path) -> None:
    backups = store(s3, "corrupt/")
    stored = backups.upload(
        dump_file(tmp_path), backup_name("eleanor-v8", NOW), {"sha256": "0" * 64}
    )
    target = tmp_path / "fetched.sql.gz"

    with pytest.raises(BackupCorrupt, match="is corrupt: its sha256 is"):
        backups.download(stored, target)
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_a_truncated_gzip_is_corrupt(tmp_path: Path) -> None:
    path = dump_file(tmp_path, "INSERT INTO t VALUES (1);\n" * 1000)
    path.write_bytes(path.read_bytes()[:-20])

    with pytest.raises(BackupCorrupt, match="does not decompress"):
        verify_gzip(path, "eleanor-v8-20261127-154000.sql.gz")


def test_an_unreachable_store_is_one_clear_error_quickly() -> None:
    dead_port = free_ports(1)[0]
    backups = BackupStore(
        BackupSettings(),
        endpoint_url=f"http://127.0.0.1:{dead_port}",
        credentials=aws_env(dead_port),
        timeout_seconds=1.0,
    )
    started = time.monotonic()

    with pytest.raises(BackupStoreUnreachable) as info:
        backups.newest()
    assert time.monotonic() - started < 15.0
    assert f"http://127.0.0.1:{dead_port}" in str(info.value)
    assert "did not answer" in str(info.value)
