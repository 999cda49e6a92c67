"""The `[backup]` table: database backups as the plan prescribes them, `pg_dump | gzip` to S3."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import (
    Context,
    Duration,
    Name,
    Rule,
    String,
    Text,
    Url,
    build,
    setting,
)

__all__ = ["BackupSettings", "parse"]

_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_POSITIVE = Duration(positive="a duration longer than 0, e.g. '720h' (30 days)")


@dataclass(frozen=True)
class BackupSettings:
    """Database backups as the plan prescribes them: `pg_dump | gzip` to S3, kept 30 days."""

    bucket: str = field(
        default="eleanor-backups",
        metadata=setting(
            String(
                (
                    Rule(
                        _S3_BUCKET.fullmatch,
                        "an S3 bucket name (3-63 lower-case letters, digits, '.', '-')",
                    ),
                ),
                what="S3 bucket name",
            ),
            "S3 bucket of the dumps (on the local stack its moto server plays S3).",
        ),
    )
    prefix: str = field(
        default="database/",
        metadata=setting(
            String(
                (
                    Rule(
                        lambda prefix: not prefix.startswith("/"),
                        "a key prefix such as 'database/' (no leading /)",
                    ),
                ),
                what="key prefix (no leading /)",
            ),
            "Key prefix of the dumps inside the bucket.",
        ),
    )
    name_prefix: str = field(
        default="eleanor-v8",
        metadata=setting(Name(), "Dumps are named `<name_prefix>-YYYYmmdd-HHMMSS.sql.gz` (UTC)."),
    )
    retention_seconds: float = field(
        default=30 * 86400.0,
        metadata=setting(
            _POSITIVE,
            "Dumps older than this are deleted after each backup (the plan: 30 days).",
            key="retention",
        ),
    )
    schedule_seconds: float = field(
        default=86400.0,
        metadata=setting(
            _POSITIVE,
            'The backup schedule (the plan: daily); "backups current" means none older than this.',
            key="schedule",
        ),
    )
    endpoint_url: str | None = field(
        default=None,
        metadata=setting(
            Url(),
            "S3 endpoint; not set: AWS itself, or the embedded stack's moto server on platform "
            "local.",
        ),
    )
    region: str = field(default="us-east-1", metadata=setting(Text(), "AWS region of the bucket."))


def parse(context: Context, table: dict[str, Any]) -> BackupSettings:
    return build(context, "backup", table, BackupSettings)
