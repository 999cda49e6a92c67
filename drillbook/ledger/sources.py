"""Where the survivors are read back from: a Postgres table, a JSON-lines file, or HTTP.

Each source answers three questions: which of this drill's writes are stored (and in what order,
with what hash), how many records the store holds in all (the plan's `SELECT COUNT(*)`), and
whether the store's hash chain is intact. A source that cannot be read says so with one
`ReadBackFailed`; a store that is simply empty (a dropped table, a truncated file) is not an
error but a finding: everything in it was lost.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from drillbook.errors import DrillError
from drillbook.ledger.chain import ChainReport, verify_eleanor_ledger, verify_evidence_chain
from drillbook.ledger.checker import StoredRecord
from drillbook.probes.auth import TokenProvider

_CHAIN_COLUMNS = ("payload", "payload_hash", "prev_hash", "record_hash")
_ELEANOR_FIELDS = ("event_id", "event", "payload", "payload_hash", "prev_hash", "record_hash")
_THROTTLED_RETRIES = 3


class ReadBackFailed(DrillError):
    """The store could not be read back, so data loss cannot be measured."""


class RecordSource(Protocol):
    description: str
    """For reports: e.g. "table evidence_records"."""

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        """The stored records whose trace id starts with `prefix` (those are this drill's
        writes), in store order. `trace_ids` are the ones sent, for sources that can only be
        asked one id at a time."""
        ...

    def count(self) -> int | None:
        """How many records the store holds in all; None when the source cannot say."""
        ...

    def chain(self) -> ChainReport | None:
        """The whole store's hash chain verified; None when the store has no chain."""
        ...


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (its wildcards escaped)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class TableSource:
    """A Postgres table with a `trace_id` column, ordered by `id`; the reference schema's hash
    columns (payload, payload_hash, prev_hash, record_hash) are used when present."""

    def __init__(self, dsn: str, table: str, *, timeout_seconds: float = 10.0) -> None:
        self._dsn = dsn
        self._table = table
        self._timeout = timeout_seconds
        self.description = f"table {table}"

    def _identifier(self) -> sql.Composable:
        return sql.Identifier(*self._table.split("."))

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=max(2, int(self._timeout)),
                row_factory=dict_row,
                options=f"-c statement_timeout={int(self._timeout * 1000)}",
            )
        except psycopg.Error as exc:
            raise ReadBackFailed(
                f"cannot read back {self.description}: the database refused the connection "
                f"({_first_line(exc)}); is it up and is the DSN right?"
            ) from None

    def _columns(self, conn: psycopg.Connection[dict[str, Any]]) -> set[str]:
        parts = self._table.split(".")
        schema, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        query = "SELECT column_name FROM information_schema.columns WHERE table_name = %s" + (
            " AND table_schema = %s" if schema else ""
        )
        params = (name, schema) if schema else (name,)
        return {str(row["column_name"]) for row in conn.execute(query, params).fetchall()}

    def exists(self) -> bool:
        """Whether the table is there at all: `count()` says 0 for a table that is gone (all
        of it lost), which a check of a restored database must not take for an empty one."""
        with self._connect() as conn:
            try:
                return bool(self._columns(conn))
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot look up {self.description}: {_first_line(exc)}"
                ) from None

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        with self._connect() as conn:
            try:
                columns = self._columns(conn)
                if not columns:
                    return []  # the table is gone: every write in it is lost
                hash_column = (
                    sql.Identifier("record_hash") if "record_hash" in columns else sql.NULL
                )
                rows = conn.execute(
                    sql.SQL(
                        "SELECT id, trace_id, {hash} AS record_hash FROM {table} "
                        "WHERE trace_id LIKE %s ORDER BY id"
                    ).format(hash=hash_column, table=self._identifier()),
                    (like_prefix(prefix),),
                ).fetchall()
            except pg_errors.UndefinedTable:
                return []
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot read back {self.description}: {_first_line(exc)}"
                ) from None
        return [
            StoredRecord(str(row["trace_id"]), int(row["id"]), row["record_hash"]) for row in rows
        ]

    def count(self) -> int | None:
        with self._connect() as conn:
            try:
                row = conn.execute(
                    sql.SQL("SELECT COUNT(*) AS n FROM {table}").format(table=self._identifier())
                ).fetchone()
            except pg_errors.UndefinedTable:
                return 0
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot count {self.description}: {_first_line(exc)}"
                ) from None
        return int(row["n"]) if row is not None else 0

    def chain(self) -> ChainReport | None:
        with self._connect() as conn:
            try:
                columns = self._columns(conn)
                if not columns:
                    return verify_evidence_chain([])
                if not all(c in columns for c in _CHAIN_COLUMNS):
                    return None
                rows = conn.execute(
                    sql.SQL(
                        "SELECT trace_id, payload, payload_hash, prev_hash, record_hash "
                        "FROM {table} ORDER BY id"
                    ).format(table=self._identifier())
                ).fetchall()
            except pg_errors.UndefinedTable:
                return verify_evidence_chain([])
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot read the chain of {self.description}: {_first_line(exc)}"
                ) from None
        return verify_evidence_chain(rows)


def parse_json_lines(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, in order; a line that is not one (a torn line
    from a crash mid-write, text that is not JSON) holds no complete record and is skipped.

    One orjson call per line (measured faster than joining the lines into one array: the join
    copies the file once more), with the cyclic garbage collector paused."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        loads = orjson.loads
        try:
            values = [loads(line) for line in data.splitlines() if line]
        except orjson.JSONDecodeError:
            values = [_parse_line(line) for line in data.splitlines() if line]
    finally:
        if collecting:
            gc.enable()
    return [value for value in values if isinstance(value, dict)]


def _parse_line(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return json.loads(line)  # NaN, an integer past 64 bits: json reads them
        except ValueError:
            return None


class JsonlSource:
    """A JSON-lines file (ELEANOR's evidence file, or its hash-chained ledger).

    The file is read and parsed once for as long as it does not change (its inode, size and
    modification time): a check asks for its count, its records and its chain, and a million
    records take seconds to parse, not to be parsed three times. Lines are parsed by orjson
    with the cyclic garbage collector paused: a million new dicts otherwise make the collector
    walk every one of them again and again (9-10 s of a million-record parse, against 1.4 s).
    A line orjson refuses (NaN, an integer past 64 bits) is parsed by json, as before.
    """

    def __init__(self, path: Path, *, trace_field: str = "trace_id") -> None:
        self._path = path
        self._trace_field = trace_field
        self.description = f"file {path}"
        self._parsed: tuple[tuple[int, int, int], list[dict[str, Any]]] | None = None

    def _records(self) -> list[dict[str, Any]]:
        try:
            status = self._path.stat()
        except FileNotFoundError:
            return []  # the file is gone: every write in it is lost
        except OSError as exc:
            raise ReadBackFailed(f"cannot read back {self.description}: {exc}") from None
        version = (status.st_ino, status.st_size, status.st_mtime_ns)
        if self._parsed is not None and self._parsed[0] == version:
            return self._parsed[1]
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ReadBackFailed(f"cannot read back {self.description}: {exc}") from None
        records = parse_json_lines(data)
        self._parsed = (version, records)
        return records

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        records = self._records()
        field = self._trace_field
        # The drill's writes are a few among the service's records: find their positions in
        # one pass over the trace ids, then build a StoredRecord for those only.
        traces = [record.get(field) for record in records]
        ours = [
            position
            for position, trace_id in enumerate(traces)
            if type(trace_id) is str and trace_id.startswith(prefix)
        ]
        stored: list[StoredRecord] = []
        for position in ours:
            digest = records[position].get("record_hash")
            stored.append(
                StoredRecord(
                    str(traces[position]), position, digest if isinstance(digest, str) else None
                )
            )
        return stored

    def count(self) -> int | None:
        return len(self._records())

    def chain(self) -> ChainReport | None:
        records = self._records()
        if records and all(field in records[0] for field in _ELEANOR_FIELDS):
            return verify_eleanor_ledger(records)
        if records and all(field in records[0] for field in ("trace_id", *_CHAIN_COLUMNS)):
            return verify_evidence_chain(records)
        return None


class HttpSource:
    """The service's own read-back endpoint, one request per write (404: not stored)."""

    def __init__(
        self,
        base_url: str,
        read_path: str,
        *,
        tokens: TokenProvider | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._read_path = read_path
        self._tokens = tokens
        self._headers = dict(headers or {})
        self._client = client or httpx.Client(timeout=timeout_seconds)
        self.description = f"HTTP {read_path}"

    def url(self, trace_id: str) -> str:
        return self._base_url + self._read_path.replace("{trace_id}", quote(trace_id, safe=""))

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        stored: list[StoredRecord] = []
        for index, trace_id in enumerate(trace_ids):
            document = self._fetch(trace_id)
            if document is None:
                continue
            sequence = document.get("sequence")
            digest = document.get("record_hash")
            stored.append(
                StoredRecord(
                    trace_id,
                    int(sequence) if isinstance(sequence, int) else index,
                    digest if isinstance(digest, str) else None,
                )
            )
        stored.sort(key=lambda record: record.position)
        return stored

    def _fetch(self, trace_id: str) -> dict[str, Any] | None:
        headers = dict(self._headers)
        if self._tokens is not None:
            headers.update(self._tokens.headers())
        for _ in range(_THROTTLED_RETRIES):
            try:
                response = self._client.get(self.url(trace_id), headers=headers)
            except httpx.HTTPError as exc:
                raise ReadBackFailed(
                    f"cannot read back {trace_id} through {self.description}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            if response.status_code == 404:
                return None
            if response.status_code == 200:
                body = response.json()
                return body if isinstance(body, dict) else {}
            if response.status_code != 429:
                break
        raise ReadBackFailed(
            f"cannot read back {trace_id} through {self.description}: HTTP "
            f"{response.status_code} (expected 200 for a stored write, 404 for a missing one)"
        )

    def count(self) -> int | None:
        return None

    def chain(self) -> ChainReport | None:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
