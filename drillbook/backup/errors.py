"""The errors of backups and restores: each names what is wrong and how to fix it."""

from __future__ import annotations

from drillbook.errors import DrillError


class BackupError(DrillError):
    """A backup could not be taken, found, fetched or restored."""


class BackupNotFound(BackupError):
    """No backup exists (or none of the requested name, or none old enough for a PITR target)."""


class BackupCorrupt(BackupError):
    """A backup file does not match its checksum, is not a valid gzip, or does not load."""


class BackupStoreUnreachable(BackupError):
    """The backup store (S3) did not answer."""


class RestoreFailed(BackupError):
    """The restore could not be completed; the live database was left as it was."""
