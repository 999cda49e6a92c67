"""The history store: every drill's record, appended at the end of the drill, kept across runs.

SQLite by default (a file in drillbook's state folder), PostgreSQL by URL for a team. Each
append is one transaction holding the run's row (first time) and the drill's row, so a run
killed mid-way keeps every drill it finished, and a reader never sees half a drill. The record
is stored whole, as its JSON (redacted, as the run file is), beside the columns that listing
and trends read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drillbook.core.record import DrillRecord
from drillbook.core.redaction import REDACTOR
from drillbook.errors import DrillError

__all__ = [
    "HistoryError",
    "HistoryStore",
    "PostgresHistory",
    "RunInfo",
    "SqliteHistory",
    "StoredDrill",
    "as_stored",
]

_TABLES = (
    """CREATE TABLE IF NOT EXISTS drillbook_runs (
        run_id TEXT PRIMARY KEY,
        started_wall DOUBLE PRECISION NOT NULL,
        platform TEXT NOT NULL,
        target TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS drillbook_drills (
        run_id TEXT NOT NULL REFERENCES drillbook_runs (run_id),
        nodeid TEXT NOT NULL,
        scenario TEXT NOT NULL,
        recovery_option TEXT NOT NULL,
        cadence TEXT NOT NULL,
        outcome TEXT NOT NULL,
        started_wall DOUBLE PRECISION NOT NULL,
        rto_seconds DOUBLE PRECISION,
        rto_objective_seconds DOUBLE PRECISION,
        rpo_seconds DOUBLE PRECISION,
        rpo_objective_seconds DOUBLE PRECISION,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, nodeid)
    )""",
)
_INSERT_RUN = (
    "INSERT INTO drillbook_runs (run_id, started_wall, platform, target) VALUES ({p}, {p}, {p}, "
    "{p}) ON CONFLICT (run_id) DO NOTHING"
)
# A drill recorded twice in one run (pytest's rerun of a node) keeps its last record.
_INSERT_DRILL = (
    "INSERT INTO drillbook_drills (run_id, nodeid, scenario, recovery_option, cadence, outcome, "
    "started_wall, rto_seconds, rto_objective_seconds, rpo_seconds, rpo_objective_seconds, "
    "record) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (run_id, nodeid) DO UPDATE SET outcome = excluded.outcome, "
    "started_wall = excluded.started_wall, rto_seconds = excluded.rto_seconds, "
    "rto_objective_seconds = excluded.rto_objective_seconds, rpo_seconds = excluded.rpo_seconds, "
    "rpo_objective_seconds = excluded.rpo_objective_seconds, record = excluded.record"
)
_SELECT = (
    "SELECT d.run_id, r.started_wall, r.platform, r.target, d.nodeid, d.scenario, "
    "d.recovery_option, d.cadence, d.outcome, d.started_wall, d.rto_seconds, "
    "d.rto_objective_seconds, d.rpo_seconds, d.rpo_objective_seconds, d.record "
    "FROM drillbook_drills d "
    "JOIN drillbook_runs r ON r.run_id = d.run_id ORDER BY d.started_wall, d.nodeid"
)


class HistoryError(DrillError):
    """The history store cannot be opened, written or read; the message names the store."""


@dataclass(frozen=True)
class RunInfo:
    """The run a drill belongs to."""

    run_id: str
    started_wall: float
    platform: str
    target: str


@dataclass(frozen=True)
class StoredDrill:
    """One drill as the history holds it: the columns listing and trends read, and the record."""

    run: RunInfo
    nodeid: str
    scenario: str
    option: str
    cadence: str
    outcome: str
    started_wall: float
    rto_seconds: float | None
    rto_objective_seconds: float | None
    rpo_seconds: float | None
    rpo_objective_seconds: float | None
    record: dict[str, Any]
    """The drill record's JSON (`DrillRecord.to_json()`), redacted."""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


class HistoryStore(Protocol):
    """Where drill records are kept: append one, read them all (oldest first)."""

    @property
    def location(self) -> str:
        """Where the store is, as messages name it (never with a password)."""
        ...

    def append(self, run: RunInfo, record: DrillRecord) -> None: ...

    def drills(self) -> list[StoredDrill]: ...

    def close(self) -> None: ...


def _drill_row(run: RunInfo, record: DrillRecord) -> tuple[Any, ...]:
    text = REDACTOR.redact(json.dumps(record.to_json(), sort_keys=True, default=str))
    return (
        run.run_id,
        record.nodeid,
        record.scenario,
        record.option,
        record.cadence,
        record.outcome,
        record.started_wall,
        None if record.rto is None else record.rto.seconds,
        None if record.rto is None else record.rto.objective_seconds,
        None if record.rpo is None else record.rpo.seconds,
        None if record.rpo is None else record.rpo.objective_seconds,
        text,
    )


def _run_row(run: RunInfo) -> tuple[Any, ...]:
    return (run.run_id, run.started_wall, run.platform, REDACTOR.redact(run.target))


def _stored(rows: Sequence[Sequence[Any]]) -> list[StoredDrill]:
    drills = []
    for row in rows:
        run = RunInfo(run_id=row[0], started_wall=row[1], platform=row[2], target=row[3])
        drills.append(
            StoredDrill(
                run=run,
                nodeid=row[4],
                scenario=row[5],
                option=row[6],
                cadence=row[7],
                outcome=row[8],
                started_wall=row[9],
                rto_seconds=row[10],
                rto_objective_seconds=row[11],
                rpo_seconds=row[12],
                rpo_objective_seconds=row[13],
                record=json.loads(row[14]),
            )
        )
    return drills


class SqliteHistory:
    """The history in one SQLite file (WAL mode: readers never block the run that writes)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Another run (or `drillbook history`) may hold the write lock for a moment.
            self._conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            for statement in _TABLES:
                self._conn.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"history store {self._path} cannot be opened: {exc}") from None

    @property
    def location(self) -> str:
        return str(self._path)

    def append(self, run: RunInfo, record: DrillRecord) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(_INSERT_RUN.format(p="?"), _run_row(run))
                self._conn.execute(_INSERT_DRILL.format(p="?"), _drill_row(run, record))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"history store {self._path}: {exc}") from None

    def drills(self) -> list[StoredDrill]:
        try:
            return _stored(self._conn.execute(_SELECT).fetchall())
        except sqlite3.Error as exc:
            raise HistoryError(f"history store {self._path}: {exc}") from None

    def close(self) -> None:
        self._conn.close()


class PostgresHistory:
    """The history in a PostgreSQL database (tables drillbook_runs and drillbook_drills)."""

    def __init__(self, url: str, *, location: str, connect_timeout: float = 10.0) -> None:
        import psycopg

        self._location = location
        try:
            self._conn = psycopg.connect(url, connect_timeout=int(max(1, connect_timeout)))
            with self._conn.transaction():
                for statement in _TABLES:
                    self._conn.execute(statement)
        except psycopg.Error as exc:
            raise HistoryError(
                REDACTOR.redact(f"history store {location} cannot be opened: {exc}")
            ) from None

    @property
    def location(self) -> str:
        return self._location

    def append(self, run: RunInfo, record: DrillRecord) -> None:
        import psycopg

        try:
            with self._conn.transaction():
                self._conn.execute(_INSERT_RUN.format(p="%s"), _run_row(run))
                self._conn.execute(_INSERT_DRILL.format(p="%s"), _drill_row(run, record))
        except psycopg.Error as exc:
            raise HistoryError(REDACTOR.redact(f"history store {self._location}: {exc}")) from None

    def drills(self) -> list[StoredDrill]:
        import psycopg

        try:
            with self._conn.transaction():
                rows = self._conn.execute(_SELECT).fetchall()
        except psycopg.Error as exc:
            raise HistoryError(REDACTOR.redact(f"history store {self._location}: {exc}")) from None
        return _stored(rows)

    def close(self) -> None:
        self._conn.close()


def as_stored(run: RunInfo, record: DrillRecord) -> StoredDrill:
    """`record` as the history would hand it back once appended (for a trend drawn before)."""
    row = _drill_row(run, record)
    return _stored([(run.run_id, run.started_wall, run.platform, run.target, *row[1:])])[0]
