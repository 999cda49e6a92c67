"""The `[history]` table: where every drill's record is kept across runs, and the drill report.

Each drill's record (drillbook.core.record) is appended to a history store at the end of the
drill: an SQLite file by default (in drillbook's state folder, `.drillbook/` under the working
directory), or a PostgreSQL database for a team, named by a URL. `drillbook history` lists it,
`drillbook status` judges it against `[schedule]`, the HTML report draws its trends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from drillbook.config.schema import (
    MISSING,
    Bool,
    Choice,
    Context,
    EnvVar,
    PathText,
    Rule,
    Text,
    build,
    setting,
)

__all__ = ["DEFAULT_HISTORY_PATH", "REPORT_FORMATS", "HistorySettings", "parse"]

DEFAULT_HISTORY_PATH: Final = ".drillbook/history.sqlite3"
ReportFormat = Literal["pdf", "markdown", "none"]
REPORT_FORMATS: Final[tuple[ReportFormat, ...]] = ("pdf", "markdown", "none")


def _is_postgres_url(value: str) -> bool:
    return urlsplit(value).scheme in ("postgresql", "postgres") and bool(urlsplit(value).netloc)


def _has_no_password(value: str) -> bool:
    # A password in the URL would be printed with every message naming the store.
    return urlsplit(value).password is None


_POSTGRES_URL = Text(
    rules=(
        Rule(_is_postgres_url, "a PostgreSQL URL such as 'postgresql://drills@db.example/dr'"),
        Rule(
            _has_no_password,
            "a PostgreSQL URL without a password",
            "give the password through libpq (PGPASSWORD, ~/.pgpass) or put the whole URL in "
            "an environment variable named by url_env",
        ),
    ),
    what="PostgreSQL URL",
)


@dataclass(frozen=True)
class HistorySettings:
    """Where drill records are kept across runs, and whether a drill report is written."""

    enabled: bool = field(
        default=True,
        metadata=setting(Bool(), "Append every drill's record to the history store."),
    )
    path: str = field(
        default=DEFAULT_HISTORY_PATH,
        metadata=setting(
            PathText(),
            "The SQLite file of the history (relative: to the directory pytest or drillbook "
            "runs in); unused when a PostgreSQL URL is set.",
        ),
    )
    url: str | None = field(
        default=None,
        metadata=setting(
            _POSTGRES_URL,
            "A PostgreSQL database for the history instead of the SQLite file (a team's "
            "shared store), without a password (libpq's PGPASSWORD or ~/.pgpass give it).",
        ),
    )
    url_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar(
                "the name of an environment variable holding the PostgreSQL URL",
                is_secret=True,
            ),
            "The environment variable holding the PostgreSQL URL, password included (never "
            "shown in reports).",
        ),
    )
    report: ReportFormat = field(
        default="pdf",
        metadata=setting(
            Choice(REPORT_FORMATS),
            "The drill report in the plan's terms written after each run under reports/: "
            '"pdf" (Markdown and a PDF rendered from it by headless Chromium), "markdown" '
            'or "none".',
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> HistorySettings:
    settings = build(context, "history", table, HistorySettings)
    if settings.url is not None and settings.url_env is not None:
        context.fail(
            "history.url_env",
            settings.url_env,
            "url or url_env, not both",
            "keep the one that names the database",
        )
    if "path" in table and (settings.url or settings.url_env):
        context.fail("history.path", table.get("path", MISSING), "no path beside a URL")
    return settings
