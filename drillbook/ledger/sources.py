"""Where the survivors are read back from: a Postgres table, a JSON-lines file, or HTTP.

Each source answers four questions: which of this drill's writes are stored (and in what order,
with what hash), how many records the store holds in all (the plan's `SELECT COUNT(*)`), whether
the store's hash chain is intact and, given the chain's head before the fault, whether it still
holds that head (drillbook.ledger.heads). A source that cannot be read says so with one
`ReadBackFailed`; a store that is simply empty (a dropped table, a truncated file) is not an
error but a finding: everything in it was lost.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from drillbook.errors import DrillError
from drillbook.ledger.chain import ChainReport, chain_gone, verify_evidence_chain
from drillbook.ledger.checker import StoredRecord
from drillbook.ledger.heads import ChainHead, check_head
from drillbook.ledger.jsonl_scan import JsonlScan, parse_line, scan_jsonl
from drillbook.probes.auth import TokenProvider

_CHAIN_COLUMNS = ("payload", "payload_hash", "prev_hash", "record_hash")
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

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        """The whole store's hash chain verified; None when the store has no chain. With
        `anchor` (the head before the fault), the report also says whether the chain still
        holds it, and is not intact when it does not."""
        ...

    def head(self) -> ChainHead | None:
        """The chain's last record now; None when the store has no chain or it is empty."""
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

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        with self._connect() as conn:
            try:
                columns = self._columns(conn)
                if not columns:
                    rows: list[dict[str, Any]] = []
                elif not all(c in columns for c in _CHAIN_COLUMNS):
                    return None if anchor is None else chain_gone(anchor)
                else:
                    rows = conn.execute(
                        sql.SQL(
                            "SELECT id, trace_id, payload, payload_hash, prev_hash, record_hash "
                            "FROM {table} ORDER BY id"
                        ).format(table=self._identifier())
                    ).fetchall()
            except pg_errors.UndefinedTable:
                rows = []
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot read the chain of {self.description}: {_first_line(exc)}"
                ) from None
        report = verify_evidence_chain(rows)
        if anchor is None:
            return report
        if not rows:
            return chain_gone(anchor)
        ids = [int(row["id"]) for row in rows]
        hashes = [row["record_hash"] for row in rows]
        traces = [row["trace_id"] for row in rows]
        return replace(report, head=check_head(anchor, hashes, traces, ids.__getitem__, where="id"))

    def head(self) -> ChainHead | None:
        with self._connect() as conn:
            try:
                if not all(c in self._columns(conn) for c in _CHAIN_COLUMNS):
                    return None  # no chain (or no table): no head to keep
                row = conn.execute(
                    sql.SQL(
                        "SELECT id, trace_id, record_hash FROM {table} ORDER BY id DESC LIMIT 1"
                    ).format(table=self._identifier())
                ).fetchone()
            except pg_errors.UndefinedTable:
                return None
            except psycopg.Error as exc:
                raise ReadBackFailed(
                    f"cannot read the chain head of {self.description}: {_first_line(exc)}"
                ) from None
        if row is None or not isinstance(row["record_hash"], str):
            return None
        trace = row["trace_id"]
        return ChainHead(
            "evidence_records",
            int(row["id"]),
            row["record_hash"],
            trace if isinstance(trace, str) else None,
            "id",
        )


def parse_json_lines(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, in order; a line that is not one (a torn line
    from a crash mid-write, text that is not JSON) holds no complete record and is skipped.
    Parsed as json parses them (drillbook.ledger.jsonl_scan.parse_line), with the cyclic
    garbage collector paused."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        values = [parse_line(line) for line in data.splitlines() if line]
    finally:
        if collecting:
            gc.enable()
    return [value for value in values if value is not None]


class JsonlSource:
    """A JSON-lines file (ELEANOR's evidence file, or its hash-chained ledger).

    The file is read in one pass that gives its count, the drill's writes and its chain at once
    (drillbook.ledger.jsonl_scan), and that pass is kept for as long as the file does not
    change (its inode, size and modification time), or, within `pinned()`, for as long as the
    block lasts: one check reads the file once even while writes go on appending to it.
    Positions are line numbers (1-based).
    """

    def __init__(self, path: Path, *, trace_field: str = "trace_id") -> None:
        self._path = path
        self._trace_field = trace_field
        self.description = f"file {path}"
        self._scanned: tuple[tuple[int, int, int], JsonlScan] | None = None
        self._pinned = False
        self._held: JsonlScan | None = None
        """The pass every answer comes from within `pinned()`, once made."""

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block, every answer comes from one pass over the file (the first made
        in the block, or the last one if the file has not changed since)."""
        self._pinned, self._held = True, None
        try:
            yield
        finally:
            self._pinned, self._held = False, None

    def _scan(self) -> JsonlScan:
        if self._held is None:
            scanned = self._current()
            if self._pinned:
                self._held = scanned
            return scanned
        return self._held

    def _current(self) -> JsonlScan:
        """The pass over the file as it is now (the last one, if the file has not changed)."""
        try:
            status = self._path.stat()
        except FileNotFoundError:
            return _NO_RECORDS  # the file is gone: every write in it is lost
        except OSError as exc:
            raise ReadBackFailed(f"cannot read back {self.description}: {exc}") from None
        version = (status.st_ino, status.st_size, status.st_mtime_ns)
        if self._scanned is not None and self._scanned[0] == version:
            return self._scanned[1]
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return _NO_RECORDS
        except OSError as exc:
            raise ReadBackFailed(f"cannot read back {self.description}: {exc}") from None
        scanned = scan_jsonl(data, trace_field=self._trace_field)
        # What was read may be newer than the status taken before it: kept under the older
        # version, it is read again at the next change, never taken for a later file.
        self._scanned = (version, scanned)
        return scanned

    def read(self, prefix: str, trace_ids: Sequence[str]) -> list[StoredRecord]:
        return self._scan().stored(prefix)

    def count(self) -> int | None:
        return self._scan().count

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        return self._scan().anchored(anchor)

    def head(self) -> ChainHead | None:
        return self._scan().head()


_NO_RECORDS = JsonlScan([], [], range(1, 1), None)


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
                    content=document,
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

    def chain(self, anchor: ChainHead | None = None) -> ChainReport | None:
        return None

    def head(self) -> ChainHead | None:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
