"""Weaviate backups kept in a directory outside the cluster: the off-site copy where no S3 is.

The plan copies each backup out of the pod (`kubectl cp`) and syncs it to S3. On a cluster whose
only S3 belongs to something the drills fault (the kind cluster's moto is a secrets provider the
secrets drills take down), the copy goes to a directory on the runner's machine instead: outside
Weaviate's volume and outside the cluster, so a lost volume or a lost provider leaves it whole.
The layout is the bucket's: `{root}/{backup_id}/...`, one directory per backup, named as
`backup_name` names them. Same methods as `S3BackupStore` (the `BackupStore` protocol).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from drillbook.backup.weaviate import BackupNotFound, StoredBackup, backup_time, find_backup


class DirectoryBackupStore:
    """Backups under `{root}/{backup_id}/`, copied with the file system."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, backup_id: str = "") -> str:
        return (self.root / backup_id).as_uri() if backup_id else self.root.as_uri()

    def ensure_bucket(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def upload(self, backup_id: str, source: Path) -> tuple[int, int]:
        """Copy `source` to `{root}/{backup_id}` (aside first, then renamed: never half there);
        returns (files, bytes)."""
        target = self.root / backup_id
        partial = self.root / f".{backup_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        files = [p for p in target.rglob("*") if p.is_file()]
        return len(files), sum(p.stat().st_size for p in files)

    def backups(self) -> list[StoredBackup]:
        """Every backup this module's naming made, oldest first."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            created = backup_time(entry.name)
            if created is None or not entry.is_dir():
                continue
            files = [p for p in entry.rglob("*") if p.is_file()]
            found.append(
                StoredBackup(
                    backup_id=entry.name,
                    created_at=created,
                    size_bytes=sum(p.stat().st_size for p in files),
                    files=len(files),
                )
            )
        return sorted(found, key=lambda b: b.created_at)

    def find(self, backup_id: str) -> StoredBackup:
        """The named backup, or "latest"; BackupNotFound when there is none."""
        return find_backup(self.backups(), backup_id, self.uri())

    def download(self, backup_id: str, target: Path) -> int:
        """Copy every file of a backup into `target` (written aside, then moved in place)."""
        source = self.root / backup_id
        if not source.is_dir():
            raise BackupNotFound(f"no Weaviate backup {backup_id!r} in {self.uri()}")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        partial.rename(target)
        return sum(1 for p in target.rglob("*") if p.is_file())

    def delete(self, backup_id: str) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)
