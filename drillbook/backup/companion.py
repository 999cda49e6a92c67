"""The backups beside every drill: the newest one when the drill starts (is it current?), and
every backup taken and restored during the drill, with name, age, size and checksum."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drillbook.backup.errors import BackupError, BackupNotFound
from drillbook.backup.local import DatabaseBackups
from drillbook.core.companions import Attachment
from drillbook.errors import DrillError

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target


class BackupCompanion:
    """Reports the database backups of the drill (`drill.companion("backup").backups`)."""

    name = "backup"

    def __init__(self, backups: DatabaseBackups) -> None:
        self.backups = backups
        self.newest_at_start: dict[str, Any] | None = None
        self.error: str | None = None

    def start(self, drill: Drill | None = None) -> None:
        try:
            self.newest_at_start = self.backups.newest_dump().figures(datetime.now(UTC))
        except BackupNotFound:
            self.newest_at_start = None
        except BackupError as exc:  # a report, not a verdict: "backups current" judges
            self.error = str(exc)

    def stop(self, drill: Drill | None = None) -> None:
        return None

    def figures(self) -> Mapping[str, Any]:
        figures: dict[str, Any] = {
            "newest_at_start": self.newest_at_start,
            "schedule_seconds": self.backups.settings.schedule_seconds,
            "retention_seconds": self.backups.settings.retention_seconds,
            **self.backups.figures(),
        }
        if self.error:
            figures["error"] = self.error
        return figures

    def attachments(self) -> list[Attachment]:
        attachments: list[Attachment] = []
        if self.backups.used:
            attachments.append(
                Attachment(
                    "backup used", json.dumps(self.backups.used, indent=2), "application/json"
                )
            )
        if self.backups.checked:
            checks = [c.figures() for c in self.backups.checked]
            attachments.append(
                Attachment("backup restore test", json.dumps(checks, indent=2), "application/json")
            )
        if self.backups.taken:
            attachments.append(
                Attachment(
                    "backups taken", json.dumps(self.backups.taken, indent=2), "application/json"
                )
            )
        return attachments


def backup_companion(target: Target, identity: DrillIdentity) -> BackupCompanion | None:
    """The companion factory: on the embedded stack (which has S3 and the WAL archive), and on
    a Compose project (its S3 service or [backup] endpoint_url; drillbook.backup.compose)."""
    if target.config.platform == "docker":
        from drillbook.backup.compose import compose_backups, state_dir
        from drillbook.platforms.docker import DockerPlatform

        if not isinstance(target.platform, DockerPlatform):
            return None
        try:
            backups = compose_backups(target.platform, target.config, state_dir(target.platform))
        except DrillError:
            return None  # no database or no S3: the fixture says why (database_backups)
        return BackupCompanion(backups)
    if target.config.platform == "kubernetes":
        from drillbook.backup.kube import kube_backups, kube_state_dir
        from drillbook.platforms.kubernetes import KubernetesPlatform

        if not isinstance(target.platform, KubernetesPlatform):
            return None
        try:
            backups = kube_backups(target.platform, target.config, kube_state_dir(target.platform))
        except DrillError:
            return None  # no backups volume or no route: the fixture says why
        return BackupCompanion(backups)
    if target.stack is None:
        return None
    try:
        return BackupCompanion(DatabaseBackups.for_stack(target.stack, target.config))
    except DrillError:
        return None  # a stack without PostgreSQL or S3: nothing to back up
