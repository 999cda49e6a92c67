"""The pure parts of point-in-time recovery on a Compose project (drillbook.backup.compose_pitr):
which volume is the data and which the WAL archive, the recovering server's arguments, the
archive's folder per cluster, the files written into a volume with the image's owner, the
failed cluster's WAL names asked of the archive, the salvaged WAL's merge into the archive,
and which base backup a restore to a time takes.

The same paths against the reference Compose project: tests/docker/test_pitr_on_compose.py and
the PITR drill in tests/docker/test_database_drills_on_compose.py.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drillbook.backup.compose_pitr import (
    _MERGE_SCRIPT,
    ComposeBackups,
    archive_folder,
    recovery_settings_text,
    tree_as_tar,
    wanted_from_archive,
)
from drillbook.backup.compose_volumes import DEFAULT_ARCHIVE, pick_volumes
from drillbook.backup.errors import BackupError, BackupNotFound
from drillbook.backup.pitr import LABEL_FILE, BaseBackup
from drillbook.backup.restore import LocalDatabase, RestoreResult
from drillbook.config.model import BackupSettings
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker_volumes import VolumeMount
from tests.unit.test_pitr_wal import SYSID, put, segment

DATA = VolumeMount("eleanor_pgdata", "/var/lib/postgresql/data", "pgdata")
ARCHIVE = VolumeMount("eleanor_pgwal-archive", DEFAULT_ARCHIVE, "pgwal-archive")
ENV = {"PGDATA": "/var/lib/postgresql/data"}


def test_the_data_volume_is_the_one_at_pgdata_and_the_archive_the_one_at_its_place() -> None:
    picked = pick_volumes("database", [ARCHIVE, DATA, DATA], ENV)
    assert (picked.data, picked.archive) == (DATA, ARCHIVE)
    # A service with its data volume only archives no WAL a restore can read.
    assert pick_volumes("database", [DATA], {}).archive is None
    assert pick_volumes("database", [DATA], {}).data == DATA
    # WAL_ARCHIVE moves the archive's place.
    moved = VolumeMount("wal", "/wal", "wal")
    assert pick_volumes("database", [DATA, moved], {**ENV, "WAL_ARCHIVE": "/wal"}).archive == moved


def test_two_volumes_and_none_at_pgdata_is_refused_naming_them() -> None:
    other = VolumeMount("eleanor_extra", "/extra", "extra")
    with pytest.raises(InvalidDrill, match=r"mounts 2 named volumes .*eleanor_extra.*PGDATA"):
        pick_volumes("database", [DATA, other], {"PGDATA": "/elsewhere"})


def test_the_recovering_server_replays_salvaged_wal_first_on_the_failed_timeline() -> None:
    folder = archive_folder(DEFAULT_ARCHIVE + "/", SYSID)
    assert folder == f"{DEFAULT_ARCHIVE}/{SYSID}"
    text = recovery_settings_text(folder, f"{DEFAULT_ARCHIVE}/salvaged-x", None, timeline="1")
    # One name=value a line (the entrypoint passes each line as one -c argument).
    assert text.splitlines() == [
        f"restore_command=if test -f {DEFAULT_ARCHIVE}/salvaged-x/%f; then cp "
        f"{DEFAULT_ARCHIVE}/salvaged-x/%f %p; else cp {folder}/%f %p; fi",
        "recovery_target_timeline=1",
    ]
    # No recovery target: to the end of the WAL ("latest"), as the drill restores.
    assert "recovery_target_time=" not in text


def test_a_target_time_is_given_in_utc_and_promotes_when_reached() -> None:
    target = datetime(2026, 12, 6, 18, 40, 1, 250000, tzinfo=UTC)
    text = recovery_settings_text("/a/1", None, target.astimezone(), timeline="latest")
    values = text.splitlines()
    assert "restore_command=cp /a/1/%f %p" in values
    assert "recovery_target_time=2026-12-06 18:40:01.250000+00" in values
    assert "recovery_target_action=promote" in values
    assert "recovery_target_inclusive=true" in values
    assert "recovery_target_timeline=latest" in values


def test_files_go_into_a_volume_as_the_images_server_user(tmp_path: Path) -> None:
    (tmp_path / "base" / "1").mkdir(parents=True)
    (tmp_path / "base" / "1" / "112").write_bytes(b"page")
    (tmp_path / "PG_VERSION").write_text("15\n")
    (tmp_path / "PG_VERSION").chmod(0o600)
    with tarfile.open(fileobj=io.BytesIO(tree_as_tar(tmp_path, uid=101, gid=103))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"PG_VERSION", "base", "base/1", "base/1/112"}
        assert {(m.uid, m.gid) for m in members.values()} == {(101, 103)}
        assert members["PG_VERSION"].mode == 0o600
        assert tar.extractfile("base/1/112").read() == b"page"  # type: ignore[union-attr]
    # Under a folder: the folder itself is a member too, owned by the server's user (else the
    # engine creates it as root and the server cannot move the files out of it).
    with tarfile.open(fileobj=io.BytesIO(tree_as_tar(tmp_path, uid=1, gid=2, under="s-1"))) as tar:
        names = [m.name for m in tar.getmembers()]
        assert names[0] == "s-1" and tar.getmember("s-1").isdir()
        assert "s-1/base/1/112" in names and tar.getmember("s-1").uid == 1


def test_only_the_failed_clusters_own_wal_is_asked_of_the_archive(tmp_path: Path) -> None:
    own = "000000010000000000000003"
    put(tmp_path, own, segment(own))
    put(tmp_path, "000000010000000000000009", segment(own))  # recycled: older WAL in it
    put(tmp_path, "000000010000000000000004", b"\0" * 32768)  # pre-allocated
    put(tmp_path, "00000002.history", b"1\t0/3000000\tno recovery target specified\n")
    put(tmp_path, "archive_status", b"")
    assert wanted_from_archive(tmp_path, SYSID) == [own, "00000002.history"]
    assert wanted_from_archive(tmp_path / "missing", SYSID) == []


def test_salvaged_wal_joins_the_archive_unless_there_already(tmp_path: Path) -> None:
    """The merge the restore runs in a throwaway container, run here by this machine's sh:
    the salvaged WAL joins the archive, the recovery's settings file goes."""
    archive = tmp_path / "archive" / str(SYSID)
    salvaged = tmp_path / "archive" / "salvaged-1"
    archive.mkdir(parents=True)
    salvaged.mkdir()
    for name, where, content in (
        ("000000010000000000000002", archive, b"archived"),
        ("000000010000000000000002", salvaged, b"salvaged"),
        ("000000010000000000000003", archive, b""),  # only as the branch point's partial
        ("000000010000000000000004", salvaged, b"new"),
    ):
        (where / name).write_bytes(content)
    (archive / "000000010000000000000003").rename(archive / "000000010000000000000003.partial")
    (salvaged / "000000010000000000000003").write_bytes(b"salvaged 3")
    settings = tmp_path / "pgdata" / "drillbook-recovery.settings"
    settings.parent.mkdir()
    settings.write_text("recovery_target_timeline=1\n")
    merge = ["sh", "-c", _MERGE_SCRIPT, "merge", str(salvaged), str(archive), str(settings)]
    subprocess.run(merge, check=True, timeout=30)
    assert not salvaged.exists() and not settings.exists()
    assert sorted(p.name for p in archive.iterdir()) == [
        "000000010000000000000002",
        "000000010000000000000003.partial",
        "000000010000000000000004",
    ]
    assert (archive / "000000010000000000000002").read_bytes() == b"archived"
    assert (archive / "000000010000000000000004").read_bytes() == b"new"


def _base(base_dir: Path, name: str, taken_at: datetime) -> None:
    (base_dir / name).mkdir(parents=True)
    label = {"name": name, "taken_at": taken_at.isoformat()}
    (base_dir / name / LABEL_FILE).write_text(json.dumps(label))


class _Restorer:
    """Stands in for VolumePitr.restore_pitr (the engine's part, run for real by
    tests/docker/test_pitr_on_compose.py): records which base backup and target it got."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime | None]] = []

    def __call__(self, db: Any, base: BaseBackup, *, target: datetime | None) -> RestoreResult:
        self.calls.append((base.name, target))
        return RestoreResult("pitr", base.figures(), None, 3, None)


def _backups(tmp_path: Path, restorer: _Restorer, refusal: str | None = None) -> ComposeBackups:
    db = LocalDatabase(pg_bin=tmp_path, run_dir=tmp_path, port=1, platform=None)  # type: ignore[arg-type]
    return ComposeBackups(
        db,
        store=None,  # type: ignore[arg-type]
        settings=BackupSettings(),
        pitr_refusal=refusal,
        pitr_restorer=restorer,
    )


def test_a_restore_to_a_time_takes_the_newest_base_backup_finished_before_it(
    tmp_path: Path,
) -> None:
    restorer = _Restorer()
    backups = _backups(tmp_path, restorer)
    t0 = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    _base(backups.db.base_dir, "base-20261206-170000", t0)
    _base(backups.db.base_dir, "base-20261206-171000", t0 + timedelta(minutes=10))
    backups.restore("latest", pitr=t0 + timedelta(minutes=5))
    backups.restore("latest", pitr="latest")
    backups.restore("base-20261206-170000", pitr="latest")
    assert restorer.calls == [
        ("base-20261206-170000", t0 + timedelta(minutes=5)),
        ("base-20261206-171000", None),
        ("base-20261206-170000", None),
    ]
    assert [u["backup"]["name"] for u in backups.used] == [c[0] for c in restorer.calls]
    with pytest.raises(BackupNotFound, match="no base backup finished before"):
        backups.restore("latest", pitr=t0 - timedelta(seconds=1))


def test_a_service_without_a_wal_archive_is_refused_before_anything(tmp_path: Path) -> None:
    restorer = _Restorer()
    backups = _backups(tmp_path, restorer, refusal="no archive volume")
    with pytest.raises(BackupError, match="no point-in-time recovery: no archive volume"):
        backups.restore("latest", pitr="latest")
    with pytest.raises(BackupError, match="no base backup: no archive volume"):
        backups.take_base_backup()
    assert restorer.calls == []


def test_base_backups_run_as_the_runner_not_as_the_embedded_servers_user() -> None:
    # The base class's take_base_backup runs pg_basebackup as the embedded server's user, who
    # cannot write under the runner's home: on Compose it failed with "Permission denied"
    # (tests/docker/test_pitr_on_compose.py) when ComposeBackups inherited it.
    from drillbook.backup.compose_pitr import ComposeBackups
    from drillbook.backup.local import DatabaseBackups

    assert ComposeBackups.take_base_backup is not DatabaseBackups.take_base_backup
