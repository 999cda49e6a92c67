"""Point-in-time recovery: base backups plus the continuous WAL archive.

The server archives every finished WAL segment (drillbook.stack.services.postgres:
`archive_command`); `take_base_backup` runs `pg_basebackup`. A PITR restore copies the newest
base backup taken before the target into a scratch directory, adds the WAL segments that the
archive does not have yet from the damaged cluster's own pg_wal (PostgreSQL's documented
procedure: "copy the unarchived WAL files"), and replays up to the target time, or to the end
of the WAL. Without those last segments the restore would lose whatever was written since the
last archived segment.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drillbook.backup.cluster import as_server_user, chown_to_server_user, pg_tool
from drillbook.backup.errors import BackupError, BackupNotFound
from drillbook.stack.services.postgres import wal_archive_command

BASE_PREFIX = "base-"
BASE_TIME_FORMAT = "%Y%m%d-%H%M%S"
LABEL_FILE = "drillbook-base.json"
_WAL_FILE = re.compile(r"[0-9A-F]{24}(\.partial)?|[0-9A-F]{8}\.history")


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


def salvage_wal(damaged_data: Path, archive: Path, target_wal: Path) -> list[str]:
    """Copy the WAL files of a failed cluster that the archive does not hold into `target_wal`.

    Returns the file names copied. A missing or unreadable pg_wal salvages nothing: the restore
    then reaches the end of the archive only.
    """
    source = damaged_data / "pg_wal"
    copied: list[str] = []
    try:
        names = sorted(p.name for p in source.iterdir() if p.is_file())
    except OSError:
        return copied
    for name in names:
        if not _WAL_FILE.fullmatch(name) or (archive / name).exists():
            continue
        if (target_wal / name).exists():
            continue
        shutil.copy2(source / name, target_wal / name)
        chown_to_server_user(target_wal / name)
        copied.append(name)
    return copied


def merge_archive(pending: Path, archive: Path) -> list[str]:
    """Move WAL a scratch server archived while it was being built into the live archive."""
    moved: list[str] = []
    if not pending.is_dir():
        return moved
    for path in sorted(pending.iterdir()):
        if not (archive / path.name).exists():
            shutil.move(str(path), str(archive / path.name))
            moved.append(path.name)
    shutil.rmtree(pending, ignore_errors=True)
    return moved


def recovery_settings(archive: Path, pending: Path, target: datetime | None) -> dict[str, str]:
    """Server settings of a scratch cluster replaying the archive (passed as -c, so nothing
    of the recovery stays in the restored cluster's configuration files)."""
    settings = {
        "restore_command": f"cp {shlex.quote(str(archive))}/%f %p",
        "archive_mode": "on",
        "archive_command": wal_archive_command(pending),
        "recovery_target_timeline": "latest",
    }
    if target is not None:
        settings["recovery_target_time"] = target.astimezone(UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f+00"
        )
        settings["recovery_target_action"] = "promote"
        settings["recovery_target_inclusive"] = "true"
    return settings
