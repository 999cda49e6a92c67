"""Weaviate backups against a real Weaviate and the stack's moto S3: made, pruned, restored, and
refused with one clear error (Weaviate left as it was) when the backup is missing or unusable.

One embedded stack for the module (about 15 s on 2 cores); each test gets its own S3 prefix, so
their backups never meet.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from drillbook.backup.weaviate import (
    BackupFailed,
    BackupNotFound,
    S3BackupStore,
    backup_name,
    create_backup,
    restore_backup,
)
from drillbook.cli import main
from drillbook.config.loader import load_config
from drillbook.probes.weaviate import WeaviateProbe
from drillbook.stack.local_stack import LocalStack, start_stack
from drillbook.stack.services.moto import aws_env
from drillbook.stack.services.weaviate import (
    PRECEDENT_SCHEMA,
    VectorStoreNotProvided,
    WeaviateEndpoint,
    endpoint,
    weaviate_binary,
)
from eleanor_reference.precedents import COLLECTION, embed, precedent_id

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    try:
        weaviate_binary()
    except VectorStoreNotProvided as exc:
        pytest.skip(str(exc))  # scripts/setup.sh builds it: CI never takes this branch
    running = start_stack(load_config(None))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def weaviate(stack: LocalStack) -> WeaviateEndpoint:
    found = endpoint(stack)
    _reset_collection(found.url)
    return found


@pytest.fixture
def store(stack: LocalStack) -> S3BackupStore:
    return S3BackupStore.from_env(
        aws_env(stack.port("aws")), prefix=f"weaviate-test-{uuid.uuid4().hex[:8]}/"
    )


def _reset_collection(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        client.delete(f"/v1/schema/{COLLECTION}")
        client.post("/v1/schema", json=PRECEDENT_SCHEMA).raise_for_status()


def _insert(url: str, keys: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for key in keys:
            response = client.post(
                "/v1/objects",
                json={
                    "class": COLLECTION,
                    "id": precedent_id(key),
                    "properties": {"text": f"precedent {key}", "metadata": "{}"},
                    "vector": embed(f"precedent {key}"),
                },
            )
            response.raise_for_status()


def _state(url: str) -> tuple[list[str], int | None]:
    """What a restore must not change: the collections, and the precedents' count."""
    with httpx.Client(base_url=url, timeout=10.0) as client:
        classes = sorted(c["class"] for c in client.get("/v1/schema").json().get("classes") or [])
    probe = WeaviateProbe(url)
    return classes, probe.count(COLLECTION) if COLLECTION in classes else None


def _drop_collection(url: str) -> None:
    httpx.delete(f"{url}/v1/schema/{COLLECTION}", timeout=10.0).raise_for_status()


def test_backup_is_exported_to_s3_pruned_and_restored(
    weaviate: WeaviateEndpoint, store: S3BackupStore, tmp_path: Path
) -> None:
    _insert(weaviate.url, [f"k{i}" for i in range(12)])
    # A backup older than the 30-day retention, as an earlier daily run would have left it.
    old = backup_name(datetime.now(UTC) - timedelta(days=31))
    store.ensure_bucket()
    store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}{old}/backup_config.json")

    made = create_backup(weaviate, store, export_root=tmp_path)

    assert made.backup.backup_id.startswith("weaviate-")
    assert [b.backup_id for b in store.backups()] == [made.backup.backup_id]
    assert made.pruned == (old,)
    assert (tmp_path / made.backup.backup_id / "backup_config.json").is_file()
    assert made.backup.size_bytes > 0 and made.backup.files >= 2

    _drop_collection(weaviate.url)
    # Weaviate's own copy is gone too (the volume was lost): the restore must use S3's.
    shutil.rmtree(weaviate.backup_path / made.backup.backup_id)

    restored = restore_backup(weaviate, store)

    assert restored.backup.backup_id == made.backup.backup_id
    assert restored.downloaded
    assert restored.collections == (COLLECTION,)
    assert _state(weaviate.url) == ([COLLECTION], 12)


def test_missing_backup_is_one_clear_error_and_leaves_weaviate_as_it_was(
    weaviate: WeaviateEndpoint,
    store: S3BackupStore,
    stack: LocalStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _insert(weaviate.url, ["a", "b", "c"])
    before = _state(weaviate.url)

    with pytest.raises(BackupNotFound, match=r"no Weaviate backup in s3://eleanor-backups/"):
        restore_backup(weaviate, store)
    assert _state(weaviate.url) == before

    # The same through the command line: exit code 2, one line naming the way out.
    assert main(["restore", "weaviate", "--run-dir", str(stack.run_dir), "--backup", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "BackupNotFound" in err and "drillbook backup weaviate" in err
    assert _state(weaviate.url) == before


def test_failed_restore_is_one_clear_error_and_leaves_weaviate_as_it_was(
    weaviate: WeaviateEndpoint, store: S3BackupStore, tmp_path: Path
) -> None:
    _insert(weaviate.url, [f"k{i}" for i in range(5)])
    made = create_backup(weaviate, store, export_root=tmp_path)
    backup_id = made.backup.backup_id
    # The data is lost, then the backup turns out to be damaged: every chunk of it in S3 is
    # garbage, and Weaviate's own copy is gone with its volume.
    _drop_collection(weaviate.url)
    shutil.rmtree(weaviate.backup_path / backup_id)
    damaged = 0
    for item in store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)["Contents"]:
        if "chunk" in item["Key"]:
            store.client.put_object(Bucket=store.bucket, Key=item["Key"], Body=b"not a backup")
            damaged += 1
    assert damaged >= 1
    before = _state(weaviate.url)

    with pytest.raises(BackupFailed, match=backup_id) as failure:
        restore_backup(weaviate, store)
    # Weaviate's own reason is in the one message (here: the damaged chunk).
    assert "chunk" in str(failure.value)

    assert _state(weaviate.url) == before == ([], None)
    # And a restore refused because the collection exists changes nothing either.
    _reset_collection(weaviate.url)
    _insert(weaviate.url, ["x"])
    before = _state(weaviate.url)
    with pytest.raises(BackupFailed, match="never overwrites"):
        restore_backup(weaviate, store, backup_id=backup_id)
    assert _state(weaviate.url) == before
