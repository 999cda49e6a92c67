"""Opening the configured history store: the SQLite file, or PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path

from drillbook.config.model import HistorySettings
from drillbook.core.redaction import register_dsn
from drillbook.records.store import HistoryError, HistoryStore, PostgresHistory, SqliteHistory

__all__ = ["history_location", "open_history"]


def history_location(settings: HistorySettings, *, base: Path) -> str:
    """Where the store is, as messages name it: the file, or the URL's variable."""
    if settings.url_env is not None:
        return f"PostgreSQL at ${settings.url_env}"
    if settings.url is not None:
        return f"PostgreSQL at {settings.url}"
    return str(_sqlite_path(settings, base))


def open_history(settings: HistorySettings, *, base: Path) -> HistoryStore:
    """The store `[history]` names; a relative SQLite path is under `base` (the run's rootdir
    or the working directory)."""
    location = history_location(settings, base=base)
    if settings.url_env is not None:
        url = os.environ.get(settings.url_env, "")
        if not url:
            raise HistoryError(
                f"history store: ${settings.url_env} is empty or unset; export the PostgreSQL "
                "URL there, or remove [history] url_env to use the SQLite file"
            )
        # The URL holds the password: it must never reach a report or a log.
        register_dsn(url)
        return PostgresHistory(url, location=location)
    if settings.url is not None:
        return PostgresHistory(settings.url, location=location)
    return SqliteHistory(_sqlite_path(settings, base))


def _sqlite_path(settings: HistorySettings, base: Path) -> Path:
    path = Path(settings.path).expanduser()
    return path if path.is_absolute() else base / path
