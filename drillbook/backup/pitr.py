"""Point-in-time recovery: base backups plus the continuous WAL archive.

The server archives every finished WAL segment (drillbook.stack.services.postgres:
`archive_command`); `take_base_backup` runs `pg_basebackup`. A PITR restore copies the newest
base backup taken before the target into a scratch directory, salvages the WAL files of the
damaged cluster's own pg_wal that the archive lacks (PostgreSQL's documented procedure: "copy
the unarchived WAL files"), and replays up to the target time, or to the end of the WAL, on the
damaged cluster's own timeline. Without those last segments the restore would lose whatever was
written since the last archived segment.

Salvaged files go into a directory of their own that the restore_command serves ahead of the
archive: the base backup's pg_wal may already hold a file of the same name that pg_basebackup
streamed only in part (the WAL written between the backup's end and its streamer's stop), and
PostgreSQL would replay that beginning and stop there. Which copy of a name wins is decided by
content (drillbook.backup.wal.relate_copies), never by the name alone.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drillbook.backup.cluster import as_server_user, chown_to_server_user, pg_tool
from drillbook.backup.errors import BackupError, BackupNotFound
from drillbook.backup.wal import (
    SEGMENT_NAME,
    Relation,
    cluster_timeline,
    is_wal_file,
    relate_copies,
    segment_problem,
)
from drillbook.stack.services.postgres import ARCHIVE_TEMPORARY_PREFIX, wal_archive_command

BASE_PREFIX = "base-"
BASE_TIME_FORMAT = "%Y%m%d-%H%M%S"
LABEL_FILE = "drillbook-base.json"


@dataclass(frozen=True)
class BaseBackup:
    """One base backup (a copy of the data directory, consistent with its streamed WAL)."""

    name: str
    path: Path
    taken_at: datetime
    """When pg_basebackup finished (UTC): recovery can reach any time after this."""
    size_bytes: int

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.taken_at).total_seconds()

    def figures(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "taken_at": self.taken_at.isoformat(),
            "age_seconds": round(self.age_seconds(now), 3),
            "size_bytes": self.size_bytes,
        }


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def take_base_backup(pg_bin: Path, *, port: int, base_dir: Path, now: datetime) -> BaseBackup:
    """`pg_basebackup -Fp -Xs` as the server's user into base_dir/base-YYYYmmdd-HHMMSS."""
    base_dir.mkdir(parents=True, exist_ok=True)
    chown_to_server_user(base_dir)
    name = BASE_PREFIX + now.astimezone(UTC).strftime(BASE_TIME_FORMAT)
    suffix = 1
    while (base_dir / name).exists():
        suffix += 1
        name = f"{BASE_PREFIX}{now.astimezone(UTC).strftime(BASE_TIME_FORMAT)}-{suffix}"
    partial = base_dir / (name + ".partial")
    result = subprocess.run(
        as_server_user(
            [
                str(pg_tool(pg_bin, "pg_basebackup")),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-D",
                str(partial),
                "-Fp",
                "-Xs",
                "-c",
                "fast",
                "--no-password",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(
            f"pg_basebackup on 127.0.0.1:{port} failed ({result.returncode}): "
            f"{result.stderr.strip()[-600:]}"
        )
    finished = datetime.now(UTC)
    label = {"name": name, "taken_at": finished.isoformat()}
    (partial / LABEL_FILE).write_text(json.dumps(label))
    partial.rename(base_dir / name)
    return BaseBackup(name, base_dir / name, finished, _tree_size(base_dir / name))


def base_backups(base_dir: Path) -> list[BaseBackup]:
    """The complete base backups, oldest first."""
    found: list[BaseBackup] = []
    if not base_dir.is_dir():
        return found
    for path in base_dir.iterdir():
        label = path / LABEL_FILE
        if not path.name.startswith(BASE_PREFIX) or not label.is_file():
            continue
        data = json.loads(label.read_text())
        found.append(
            BaseBackup(
                path.name, path, datetime.fromisoformat(str(data["taken_at"])), _tree_size(path)
            )
        )
    return sorted(found, key=lambda b: b.taken_at)


def choose_base_backup(base_dir: Path, target: datetime | None) -> BaseBackup:
    """The newest base backup finished before `target` (any, for the end of the WAL)."""
    candidates = base_backups(base_dir)
    if target is not None:
        candidates = [b for b in candidates if b.taken_at <= target]
    if not candidates:
        when = f" finished before {target.isoformat()}" if target is not None else ""
        raise BackupNotFound(
            f"no base backup{when} in {base_dir}: point-in-time recovery needs one; take one "
            "with: drillbook backup database --base"
        )
    return candidates[-1]


@dataclass(frozen=True)
class Salvage:
    """What a restore took from the failed cluster's pg_wal, and what that pg_wal told."""

    copied: tuple[str, ...] = ()
    """Files put in the salvage directory (served ahead of the archive)."""
    replacing: tuple[str, ...] = ()
    """Of those, the ones whose archived copy they supersede (cut short, another cluster's,
    or a foreign branch's history file)."""
    timeline: int | None = None
    """The timeline the failed cluster was on; None when its pg_wal told nothing."""
    notes: tuple[str, ...] = ()


def salvage_wal(
    damaged_data: Path,
    archive: Path,
    base_wal: Path,
    salvage_dir: Path,
    *,
    system_identifier: int,
) -> Salvage:
    """Copy the failed cluster's WAL that neither the archive nor the base backup holds in
    full into `salvage_dir`.

    Each WAL file of the failed cluster's pg_wal (`system_identifier`: the base backup's
    cluster; recycled, pre-allocated and other clusters' files are left) is compared, by
    content, with the archive's and the base backup's copy of its name:

    - the archive holds the same or more: nothing to salvage;
    - a copy holds only a beginning of it (pg_basebackup's streamed part of the segment after
      the backup, a copy cut short) or is not this cluster's WAL: it is salvaged;
    - both hold WAL the other lacks (they diverged): the copy there is kept and a note says
      so, because no rule can tell which is right.

    A missing or unreadable pg_wal salvages nothing: the restore then reaches the end of the
    archive only.
    """
    source = damaged_data / "pg_wal"
    copied: list[str] = []
    replacing: list[str] = []
    notes: list[str] = []
    try:
        names = sorted(p.name for p in source.iterdir() if p.is_file())
    except OSError as exc:
        return Salvage(
            notes=(
                f"the failed cluster's pg_wal could not be read ({exc.strerror}): nothing "
                "salvaged, the restore reaches the end of the archive only",
            )
        )
    for name in names:
        if not is_wal_file(name):
            continue
        mine = source / name
        if SEGMENT_NAME.fullmatch(name) and segment_problem(
            mine, name.removesuffix(".partial"), system_identifier
        ):
            continue
        relations = {
            where: relate_copies(mine, other, name=name, system_identifier=system_identifier)
            for where, other in (("archive", archive / name), ("base backup", base_wal / name))
            if other.is_file()
        }
        if relations.get("archive") in (Relation.IDENTICAL, Relation.COVERS):
            continue  # restore_command serves the archive's copy
        if relations.get("base backup") is Relation.COVERS:
            continue  # the base backup's pg_wal holds more of it
        diverged = [where for where, r in relations.items() if r is Relation.CONFLICT]
        if diverged:
            notes.append(
                f"{name}: the failed cluster's copy and the {diverged[0]}'s hold different "
                f"WAL; the {diverged[0]}'s was kept (compare the two by hand)"
            )
            continue
        shutil.copy2(mine, salvage_dir / name)
        chown_to_server_user(salvage_dir / name)
        copied.append(name)
        if relations.get("archive") is Relation.SUPERSEDED:
            replacing.append(name)
    return Salvage(
        copied=tuple(copied),
        replacing=tuple(replacing),
        timeline=cluster_timeline(source, system_identifier),
        notes=tuple(notes),
    )


def merge_archive(pending: Path, archive: Path) -> list[str]:
    """Move WAL a scratch server archived while it was being built into the live archive."""
    moved: list[str] = []
    if not pending.is_dir():
        return moved
    for path in sorted(pending.iterdir()):
        if path.name.startswith(ARCHIVE_TEMPORARY_PREFIX):
            continue  # a copy the scratch server's archiver never finished
        if not (archive / path.name).exists():
            shutil.move(str(path), str(archive / path.name))
            moved.append(path.name)
    shutil.rmtree(pending, ignore_errors=True)
    return moved


def merge_salvaged(
    salvage_dir: Path, archive: Path, *, replacing: Collection[str], superseded_dir: Path
) -> list[str]:
    """After a restore was swapped in, put the salvaged WAL (now the restored cluster's past)
    into the live archive, so that a later restore from the same base backup finds it.

    Call after `merge_archive`: a segment the restored cluster archived itself as `.partial`
    (its last one on the old timeline, where it branched) is there already. An archived copy
    a salvaged file supersedes is moved to `superseded_dir`, never deleted.
    """
    moved: list[str] = []
    if not salvage_dir.is_dir():
        return moved
    for path in sorted(salvage_dir.iterdir()):
        target = archive / path.name
        if (archive / (path.name + ".partial")).exists():
            continue
        if target.exists():
            if path.name not in replacing:
                continue
            superseded_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(superseded_dir / path.name))
        shutil.move(str(path), str(target))
        moved.append(path.name)
    shutil.rmtree(salvage_dir, ignore_errors=True)
    return moved


def restore_command(archive: Path, salvaged: Path | None = None) -> str:
    """restore_command: the salvaged copy of a file if there is one, else the archive's."""
    from_archive = f"cp {shlex.quote(str(archive))}/%f %p"
    if salvaged is None:
        return from_archive
    quoted = shlex.quote(str(salvaged))
    return f"if test -f {quoted}/%f; then cp {quoted}/%f %p; else {from_archive}; fi"


def recovery_settings(
    archive: Path,
    pending: Path,
    target: datetime | None,
    *,
    salvaged: Path | None = None,
    timeline: str = "latest",
) -> dict[str, str]:
    """Server settings of a scratch cluster replaying the archive (passed as -c, so nothing
    of the recovery stays in the restored cluster's configuration files).

    `timeline`: the failed cluster's own (drillbook.backup.wal.choose_timeline), so that a
    foreign branch's history file in the archive is never followed.
    """
    settings = {
        "restore_command": restore_command(archive, salvaged),
        "archive_mode": "on",
        "archive_command": wal_archive_command(pending),
        "recovery_target_timeline": timeline,
    }
    if target is not None:
        settings["recovery_target_time"] = target.astimezone(UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f+00"
        )
        settings["recovery_target_action"] = "promote"
        settings["recovery_target_inclusive"] = "true"
    return settings
