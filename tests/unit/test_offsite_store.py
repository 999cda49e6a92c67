"""The off-site store and the WAL shipper against a real moto S3 server on loopback."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from moto.server import ThreadedMotoServer

from drillbook.backup.errors import (
    BackupCorrupt,
    BackupError,
    BackupNotFound,
    BackupStoreUnreachable,
)
from drillbook.core.polling import poll_until
from drillbook.platforms.ports import free_ports
from drillbook.sites.offsite import OffsiteStore, WalConflict, is_archive_name
from drillbook.sites.wal_shipper import load_state, save_state, ship_once
from drillbook.stack.services.postgres import ARCHIVE_TEMPORARY_PREFIX

TAKEN = datetime(2026, 11, 27, 15, 40, 0, tzinfo=UTC)
PROCESS_DEADLINE_SECONDS = 15.0
"""How long a shipper process may take to start (imports) and ship one file."""
STOP_DEADLINE_SECONDS = 2.0
"""How long a shipper may take to exit after SIGTERM (its interval here is 0.2 s)."""


def start_moto(port: int) -> ThreadedMotoServer:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_ports(1)[0]
    server = start_moto(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(s3_url: str) -> OffsiteStore:
    """A deployment of its own per test: tests share the server, never each other's keys."""
    offsite = OffsiteStore(endpoint_url=s3_url, prefix=f"deployment-{uuid.uuid4().hex[:6]}")
    offsite.ensure_bucket()
    return offsite


def segment(number: int, timeline: int = 1) -> str:
    return f"{timeline:08X}{0:08X}{number:08X}"


def archive_file(archive: Path, name: str, content: bytes) -> Path:
    """Put a file into an archive as archive_command does: temporary name, then rename."""
    archive.mkdir(parents=True, exist_ok=True)
    temporary = archive / f"{ARCHIVE_TEMPORARY_PREFIX}{name}"
    temporary.write_bytes(content)
    return temporary.replace(archive / name)


def overwrite_keeping_metadata(store: OffsiteStore, relative: str, content: bytes) -> None:
    """Damage an object behind the store's back: new content, the old sha256 metadata."""
    key = f"{store.prefix}/{relative}"
    client = store.client()
    old = client.head_object(Bucket=store.bucket, Key=key)["Metadata"]
    client.put_object(Bucket=store.bucket, Key=key, Body=content, Metadata=old)


def base_backup_dir(root: Path, seed: str) -> Path:
    directory = root / seed
    directory.mkdir(parents=True)
    (directory / "base.tar").write_bytes(f"base of {seed}".encode() * 100)
    (directory / "pg_wal.tar").write_bytes(f"wal of {seed}".encode())
    (directory / "backup_manifest").write_text(json.dumps({"seed": seed}))
    return directory


# --- names ------------------------------------------------------------------------------------


def test_archive_names() -> None:
    assert is_archive_name(segment(1))
    assert is_archive_name(segment(1) + ".partial")
    assert is_archive_name("00000002.history")
    assert is_archive_name(segment(2) + ".00000028.backup")
    assert not is_archive_name(ARCHIVE_TEMPORARY_PREFIX + segment(1))
    assert not is_archive_name("notes.backup")
    assert not is_archive_name("archive_status")


def test_a_prefix_with_slashes_is_refused() -> None:
    with pytest.raises(BackupError, match="not a key prefix"):
        OffsiteStore(endpoint_url="http://127.0.0.1:1", prefix="/deployment-ab12cd/")


def test_no_connection_is_shared_between_threads(store: OffsiteStore) -> None:
    """Each site's code runs in a thread inside its network namespace: a pooled connection
    of another thread would carry its traffic past a cut link."""
    mine = store._s3
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(store._s3))
    worker.start()
    worker.join(timeout=30)

    assert store._s3 is mine  # one client per thread, kept
    assert len(seen) == 1 and seen[0] is not mine
    assert store.client() is not store.client()
    assert store.env()["AWS_ENDPOINT_URL"] == store.endpoint_url


# --- WAL --------------------------------------------------------------------------------------


def test_push_wal_is_idempotent(store: OffsiteStore, tmp_path: Path) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    path = archive_file(tmp_path, segment(1), b"wal one")

    assert store.push_wal(path, segment(1)) is True
    assert store.push_wal(path, segment(1)) is False

    assert store.wal_names() == [segment(1)]
    newest = store.newest_wal()
    assert newest is not None
    name, uploaded = newest
    assert name == segment(1)
    assert before <= uploaded <= datetime.now(UTC) + timedelta(seconds=2)
    head = store.client().head_object(Bucket=store.bucket, Key=f"{store.prefix}/wal/{name}")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"wal one").hexdigest()


def test_a_wal_file_is_never_overwritten(store: OffsiteStore, tmp_path: Path) -> None:
    store.push_wal(archive_file(tmp_path / "a", segment(1), b"the original"), segment(1))
    other = archive_file(tmp_path / "b", segment(1), b"another cluster's segment")

    with pytest.raises(WalConflict) as info:
        store.push_wal(other, segment(1))

    message = str(info.value)
    assert segment(1) in message and "never overwritten" in message
    assert hashlib.sha256(b"another cluster's segment").hexdigest() in message
    body = store.client().get_object(Bucket=store.bucket, Key=f"{store.prefix}/wal/{segment(1)}")
    assert body["Body"].read() == b"the original"


def test_push_wal_refuses_a_name_that_is_not_wal(store: OffsiteStore, tmp_path: Path) -> None:
    path = archive_file(tmp_path, "notes.txt", b"x")

    with pytest.raises(BackupError, match="not a WAL archive file name"):
        store.push_wal(path, "notes.txt")
    assert store.wal_names() == []


def test_newest_wal_of_an_empty_archive_is_none(store: OffsiteStore) -> None:
    assert store.newest_wal() is None


def test_fetch_all_wal_brings_back_every_kind(store: OffsiteStore, tmp_path: Path) -> None:
    contents = {
        segment(1): b"segment one",
        segment(2): b"segment two",
        segment(2) + ".00000028.backup": b"START WAL LOCATION",
        "00000002.history": b"1\t0/3000000\tno recovery target specified\n",
    }
    for name, content in contents.items():
        store.push_wal(archive_file(tmp_path / "archive", name, content), name)
    target = tmp_path / "restore-wal"

    fetched = store.fetch_all_wal(target)

    assert fetched == sorted(contents)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == contents


def test_a_damaged_wal_file_is_refused_on_fetch(store: OffsiteStore, tmp_path: Path) -> None:
    store.push_wal(archive_file(tmp_path / "archive", segment(1), b"whole segment"), segment(1))
    overwrite_keeping_metadata(store, f"wal/{segment(1)}", b"bit rot")
    target = tmp_path / "restore-wal"

    with pytest.raises(BackupCorrupt) as info:
        store.fetch_all_wal(target)

    assert segment(1) in str(info.value) and "corrupt" in str(info.value)
    assert hashlib.sha256(b"bit rot").hexdigest() in str(info.value)
    assert list(target.iterdir()) == []  # neither the damaged file nor its temporary copy


# --- base backups -----------------------------------------------------------------------------


def test_the_newest_complete_base_backup_is_chosen(store: OffsiteStore, tmp_path: Path) -> None:
    old = store.upload_base_backup(base_backup_dir(tmp_path, "old"), "base-1", taken_at=TAKEN)
    new = store.upload_base_backup(
        base_backup_dir(tmp_path, "new"), "base-2", taken_at=TAKEN + timedelta(hours=1)
    )

    assert [b.label for b in store.base_backups()] == ["base-1", "base-2"]
    newest = store.newest_base_backup()
    assert newest == new and newest != old
    assert newest.taken_at == TAKEN + timedelta(hours=1)
    assert newest.files == ("backup_manifest", "base.tar", "pg_wal.tar")
    source = tmp_path / "new"
    assert newest.size_bytes == sum(p.stat().st_size for p in source.iterdir())

    local = store.download_base_backup(newest, tmp_path / "restore")

    assert {p.name: p.read_bytes() for p in local.iterdir()} == {
        p.name: p.read_bytes() for p in source.iterdir()
    }


def test_a_backup_without_its_marker_is_never_chosen(store: OffsiteStore, tmp_path: Path) -> None:
    store.upload_base_backup(base_backup_dir(tmp_path, "old"), "base-1", taken_at=TAKEN)
    # A later upload cut short: its files are there, its COMPLETE marker is not.
    store.upload_base_backup(
        base_backup_dir(tmp_path, "cut"), "base-2", taken_at=TAKEN + timedelta(hours=1)
    )
    store.client().delete_object(Bucket=store.bucket, Key=f"{store.prefix}/base/base-2/COMPLETE")

    assert [b.label for b in store.base_backups()] == ["base-1"]
    assert store.newest_base_backup().label == "base-1"


def test_only_incomplete_backups_is_one_clear_error(store: OffsiteStore, tmp_path: Path) -> None:
    path = base_backup_dir(tmp_path, "cut") / "base.tar"
    store.client().put_object(
        Bucket=store.bucket, Key=f"{store.prefix}/base/base-9/base.tar", Body=path.read_bytes()
    )

    with pytest.raises(BackupNotFound) as info:
        store.newest_base_backup()

    message = str(info.value)
    assert "no complete base backup" in message and store.prefix in message
    assert "base-9" in message and "incomplete" in message
    assert "upload_base_backup" in message


def test_a_complete_backup_is_never_replaced(store: OffsiteStore, tmp_path: Path) -> None:
    store.upload_base_backup(base_backup_dir(tmp_path, "one"), "base-1", taken_at=TAKEN)

    with pytest.raises(BackupError, match="never replaced"):
        store.upload_base_backup(base_backup_dir(tmp_path, "two"), "base-1")
    body = (
        store.client()
        .get_object(Bucket=store.bucket, Key=f"{store.prefix}/base/base-1/base.tar")["Body"]
        .read()
    )
    assert body == (tmp_path / "one" / "base.tar").read_bytes()


def test_a_directory_without_base_tar_is_refused(store: OffsiteStore, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")

    with pytest.raises(BackupError, match=r"not a base backup; expected base\.tar"):
        store.upload_base_backup(tmp_path, "base-1")
    assert store.keys() == []


def test_a_damaged_base_backup_is_refused(store: OffsiteStore, tmp_path: Path) -> None:
    backup = store.upload_base_backup(base_backup_dir(tmp_path, "b"), "base-1", taken_at=TAKEN)
    overwrite_keeping_metadata(store, "base/base-1/base.tar", b"truncated")

    with pytest.raises(BackupCorrupt, match=r"base/base-1/base\.tar .* is corrupt"):
        store.download_base_backup(backup, tmp_path / "restore")
    assert not (tmp_path / "restore" / "base.tar").exists()
    assert not (tmp_path / "restore" / f"{ARCHIVE_TEMPORARY_PREFIX}base.tar").exists()


# --- other files ------------------------------------------------------------------------------


def test_files_and_trees_round_trip(store: OffsiteStore, tmp_path: Path) -> None:
    dump = tmp_path / "eleanor.dump"
    dump.write_bytes(b"PGDMP")
    tree = tmp_path / "weaviate-backup"
    (tree / "node1").mkdir(parents=True)
    (tree / "backup_config.json").write_text("{}")
    (tree / "node1" / "chunk-1").write_bytes(b"vectors")

    store.upload_file(dump, "dumps/eleanor.dump")
    assert store.upload_tree(tree, "weaviate/backup-1") == [
        "weaviate/backup-1/backup_config.json",
        "weaviate/backup-1/node1/chunk-1",
    ]

    assert store.keys("dumps") == ["dumps/eleanor.dump"]
    assert store.keys("weaviate/backup") == []  # a folder, not a string prefix
    assert len(store.keys()) == 3
    store.download_file("dumps/eleanor.dump", tmp_path / "back" / "eleanor.dump")
    assert (tmp_path / "back" / "eleanor.dump").read_bytes() == b"PGDMP"
    written = store.download_tree("weaviate/backup-1", tmp_path / "restored")
    assert sorted(p.relative_to(tmp_path / "restored").as_posix() for p in written) == [
        "backup_config.json",
        "node1/chunk-1",
    ]
    assert (tmp_path / "restored" / "node1" / "chunk-1").read_bytes() == b"vectors"


def test_a_key_already_under_the_prefix_is_not_nested(store: OffsiteStore, tmp_path: Path) -> None:
    dump = tmp_path / "eleanor.dump"
    dump.write_bytes(b"PGDMP")

    store.upload_file(dump, f"{store.prefix}/dumps/eleanor.dump")

    assert store.keys() == ["dumps/eleanor.dump"]


def test_generic_uploads_cannot_bypass_the_wal_rules(store: OffsiteStore, tmp_path: Path) -> None:
    path = tmp_path / segment(1)
    path.write_bytes(b"x")

    with pytest.raises(BackupError, match="only push_wal and upload_base_backup"):
        store.upload_file(path, f"wal/{segment(1)}")
    with pytest.raises(BackupError, match="not a usable key"):
        store.upload_file(path, "dumps/../wal/x")
    assert store.keys() == []


def test_a_damaged_file_is_refused(store: OffsiteStore, tmp_path: Path) -> None:
    dump = tmp_path / "eleanor.dump"
    dump.write_bytes(b"PGDMP")
    store.upload_file(dump, "dumps/eleanor.dump")
    overwrite_keeping_metadata(store, "dumps/eleanor.dump", b"PGDMX")

    with pytest.raises(BackupCorrupt):
        store.download_file("dumps/eleanor.dump", tmp_path / "back.dump")
    assert not (tmp_path / "back.dump").exists()


def test_a_missing_tree_is_not_found(store: OffsiteStore, tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound, match="nothing under weaviate/backup-9/"):
        store.download_tree("weaviate/backup-9", tmp_path)


# --- an unreachable store ---------------------------------------------------------------------


def test_an_unreachable_store_is_one_clear_error(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    offsite = OffsiteStore(endpoint_url=closed, prefix="deployment-ab12cd")
    path = archive_file(tmp_path, segment(1), b"x")
    started = time.monotonic()

    for call in (
        offsite.wal_names,
        lambda: offsite.push_wal(path, segment(1)),
        offsite.newest_base_backup,
        offsite.ensure_bucket,
    ):
        with pytest.raises(BackupStoreUnreachable) as info:
            call()
        message = str(info.value)
        assert f"the off-site store at {closed} is unreachable" in message
        assert "\n" not in message and "Traceback" not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__

    assert time.monotonic() - started < 20.0  # refused connections fail fast, not at timeouts


def test_a_missing_bucket_is_one_clear_error(s3_url: str, tmp_path: Path) -> None:
    offsite = OffsiteStore(endpoint_url=s3_url, bucket="no-such-bucket", prefix="deployment-x")

    with pytest.raises(BackupError, match="bucket no-such-bucket does not exist"):
        offsite.push_wal(archive_file(tmp_path, segment(1), b"x"), segment(1))


# --- the shipper, one iteration ---------------------------------------------------------------


def test_ship_once_ships_whole_wal_files_once(store: OffsiteStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    wal = [segment(1), segment(2), "00000002.history", segment(2) + ".00000028.backup"]
    for name in wal:
        archive_file(archive, name, name.encode())
    (archive / f"{ARCHIVE_TEMPORARY_PREFIX}{segment(3)}").write_bytes(b"half a cop")
    (archive / "notes.txt").write_text("not WAL")
    (archive / "archive_status").mkdir()
    shipped: set[str] = set()

    first = ship_once(store, archive, shipped)

    assert first == sorted(wal)
    assert shipped == set(wal)
    assert store.wal_names() == sorted(wal)
    assert ship_once(store, archive, shipped) == []

    archive_file(archive, segment(3), b"now whole")
    assert ship_once(store, archive, shipped) == [segment(3)]
    assert store.wal_names() == sorted([*wal, segment(3)])


def test_ship_once_after_a_restart_without_state(store: OffsiteStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive_file(archive, segment(1), b"one")
    ship_once(store, archive, set())

    # A new process that lost its memory finds the file off-site already: no error.
    assert ship_once(store, archive, set()) == [segment(1)]
    assert store.wal_names() == [segment(1)]


def test_a_conflict_does_not_stop_the_files_after_it(
    store: OffsiteStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.push_wal(archive_file(tmp_path / "other", segment(1), b"theirs"), segment(1))
    archive = tmp_path / "archive"
    archive_file(archive, segment(1), b"ours")
    archive_file(archive, segment(2), b"two")
    shipped: set[str] = set()
    refused: set[str] = set()

    assert ship_once(store, archive, shipped, refused=refused) == [segment(2)]
    assert ship_once(store, archive, shipped, refused=refused) == []

    assert shipped == {segment(2)} and refused == {segment(1)}
    err = capsys.readouterr().err
    assert err.count(f"not shipping {segment(1)}") == 1  # reported once, not every interval


def test_the_state_file_round_trips_for_its_own_store_only(
    store: OffsiteStore, tmp_path: Path
) -> None:
    state = tmp_path / "shipped.json"
    save_state(state, store, {segment(1), segment(2)})

    assert load_state(state, store) == {segment(1), segment(2)}
    other = OffsiteStore(endpoint_url=store.endpoint_url, prefix="deployment-other")
    assert load_state(state, other) == set()
    assert [p.name for p in tmp_path.iterdir()] == ["shipped.json"]  # no temporary left
    assert load_state(tmp_path / "missing.json", store) == set()
    state.write_text("{not json")
    assert load_state(state, store) == set()


# --- the shipper, a process -------------------------------------------------------------------


class Shipper:
    """`python -m drillbook.sites.wal_shipper` with its stdout/stderr read as they come."""

    def __init__(self, store: OffsiteStore, archive: Path, state: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "drillbook.sites.wal_shipper",
                "--archive",
                str(archive),
                "--endpoint",
                store.endpoint_url,
                "--bucket",
                store.bucket,
                "--prefix",
                store.prefix,
                "--interval",
                "0.2",
                "--state",
                str(state),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=_collect, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=_collect, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send `signum`; (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=STOP_DEADLINE_SECONDS * 5)
        took = time.monotonic() - started
        for reader in self._readers:
            reader.join(timeout=5)
        return code, took

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _collect(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


def test_the_shipper_process_ships_and_stops_on_sigterm(
    store: OffsiteStore, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    state = tmp_path / "shipped.json"
    shipper = Shipper(store, archive, state)
    try:
        (archive / f"{ARCHIVE_TEMPORARY_PREFIX}{segment(2)}").write_bytes(b"a copy in progress")
        archive_file(archive, segment(1), b"a whole segment")

        names = poll_until(
            store.wal_names,
            lambda names: segment(1) in names,
            timeout=PROCESS_DEADLINE_SECONDS,
            interval=0.1,
        )
        assert names == [segment(1)], shipper.err
        poll_until(
            lambda: list(shipper.out),
            lambda out: bool(out),
            timeout=PROCESS_DEADLINE_SECONDS,
            interval=0.05,
        )

        code, took = shipper.stop(signal.SIGTERM)
    finally:
        shipper.kill()

    assert code == 0, shipper.err
    assert took < STOP_DEADLINE_SECONDS
    assert shipper.out == [f"shipped {segment(1)}"]
    assert shipper.err == []
    assert json.loads(state.read_text())["shipped"] == [segment(1)]
    assert store.wal_names() == [segment(1)]


def test_the_shipper_outlives_an_outage_and_reports_it_once(
    store: OffsiteStore, tmp_path: Path
) -> None:
    down = OffsiteStore(endpoint_url=f"http://127.0.0.1:{free_ports(1)[0]}", prefix=store.prefix)
    archive = tmp_path / "archive"
    archive_file(archive, segment(1), b"written during the outage")
    shipper = Shipper(down, archive, tmp_path / "shipped.json")
    server = None
    try:
        poll_until(
            lambda: list(shipper.err),
            lambda err: bool(err),
            timeout=PROCESS_DEADLINE_SECONDS,
            interval=0.05,
        )
        time.sleep(1.0)  # five more intervals of the outage: none may add a line
        assert shipper.process.poll() is None
        assert len(shipper.err) == 1 and "is unreachable" in shipper.err[0], shipper.err
        assert shipper.out == []

        # The store comes back (the same moto backend, on the port the shipper was told).
        server = start_moto(int(down.endpoint_url.rsplit(":", 1)[1]))
        poll_until(
            lambda: list(shipper.out),
            lambda out: bool(out),
            timeout=PROCESS_DEADLINE_SECONDS,
            interval=0.05,
        )
        code, _ = shipper.stop(signal.SIGINT)
    finally:
        shipper.kill()
        if server is not None:
            server.stop()

    assert code == 0
    assert shipper.out == [f"shipped {segment(1)}"]
    assert len(shipper.err) == 2 and "shipping again" in shipper.err[1], shipper.err
    assert store.wal_names() == [segment(1)]


def test_sigterm_stops_the_shipper_in_the_middle_of_a_request(tmp_path: Path) -> None:
    # A store that accepts the connection and never answers: the request hangs (a link cut
    # mid-request) until the read timeout, far beyond the interval the stop may take.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", free_ports(1)[0]))
        silent.listen()
        silent.settimeout(PROCESS_DEADLINE_SECONDS)
        host, port = silent.getsockname()
        hanging = OffsiteStore(endpoint_url=f"http://{host}:{port}", prefix="deployment-ab12cd")
        archive = tmp_path / "archive"
        archive_file(archive, segment(1), b"one")
        shipper = Shipper(hanging, archive, tmp_path / "shipped.json")
        try:
            connection, _ = silent.accept()  # the shipper's request is now waiting
            with connection:
                code, took = shipper.stop(signal.SIGTERM)
        finally:
            shipper.kill()

    assert code == 0, shipper.err
    assert took < STOP_DEADLINE_SECONDS
    assert shipper.out == [] and shipper.err == []
