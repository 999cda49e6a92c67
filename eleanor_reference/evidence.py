"""The evidence store: an append-only, hash-chained audit log in PostgreSQL.

Each `POST /deliberate` appends one row to `evidence_records`. Rows form a chain, so a drill
can prove that no acknowledged record was lost or altered after a failure:

* `payload_hash` = sha256 (hex) of `canonical_json(payload)`;
* `record_hash`  = sha256 (hex) of `canonical_json({"trace_id", "payload_hash", "prev_hash"})`;
* `prev_hash` of a record is the `record_hash` of the record before it (by `id`), and
  `GENESIS_HASH` ("0" * 64) for the first one.

The pure functions (`canonical_json`, `payload_hash`, `record_hash`, `verify_chain`) define
the chain; `GENESIS_HASH` and `canonical_json` come from drillbook.core.contracts, which
drillbook's own verifier (drillbook/ledger/chain.py) uses too. `EvidenceStore` is the service side:
one short-lived connection per operation (so it recovers by itself after Postgres restarts),
every operation bounded by a timeout, and chain appends serialized across replicas by a
transaction-level advisory lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

# The chain's genesis and canonical form are a contract with drillbook's verifier.
from drillbook.core.contracts import GENESIS_HASH as GENESIS_HASH
from drillbook.core.contracts import canonical_json as canonical_json

#: Advisory lock keys (bigint): one serializes chain appends, the other schema creation.
CHAIN_LOCK_KEY = 0x454C45414E4F5201  # "ELEANOR" + 0x01
SCHEMA_LOCK_KEY = 0x454C45414E4F5202

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS evidence_records (
    id bigserial PRIMARY KEY,
    trace_id text UNIQUE NOT NULL,
    created_at timestamptz DEFAULT now(),
    payload jsonb NOT NULL,
    payload_hash text NOT NULL,
    prev_hash text NOT NULL,
    record_hash text NOT NULL
)
"""

_COLUMNS = "id, trace_id, created_at, payload, payload_hash, prev_hash, record_hash"

#: Server-side guards on each session: a waiter gives up on the chain lock after 4 s, and a
#: frozen replica (SIGSTOP) cannot hold the lock for more than 5 s.
_SESSION_OPTIONS = (
    "-c lock_timeout=4000 -c statement_timeout=5000 -c idle_in_transaction_session_timeout=5000"
)

T = TypeVar("T")


# --------------------------------------------------------------------------- pure functions


def payload_hash(payload: Any) -> str:
    """Return the sha256 hex digest of `canonical_json(payload)`."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def record_hash(trace_id: str, payload_hash: str, prev_hash: str) -> str:
    """Return the sha256 hex digest that links a record into the chain."""
    if isinstance(trace_id, str) and isinstance(payload_hash, str) and isinstance(prev_hash, str):
        # canonical_json of this three-string object, written out (keys in sorted order, each
        # string escaped as the encoder does): the same bytes, ten times faster, and this runs
        # once per record of every chain verified.
        linked_text = (
            f'{{"payload_hash":{_json_string(payload_hash)},"prev_hash":'
            f'{_json_string(prev_hash)},"trace_id":{_json_string(trace_id)}}}'
        )
    else:
        linked = {"trace_id": trace_id, "payload_hash": payload_hash, "prev_hash": prev_hash}
        linked_text = canonical_json(linked)
    return hashlib.sha256(linked_text.encode("utf-8")).hexdigest()


def verify_chain(
    records: Iterable[Mapping[str, Any]], *, expected_first_prev: str = GENESIS_HASH
) -> list[str]:
    """Check records (in `id` order) against the chain rules; return the problems found.

    Each record needs the keys `trace_id`, `payload`, `payload_hash`, `prev_hash` and
    `record_hash`. An empty list means the chain is intact. Pass `expected_first_prev` to
    verify a chain segment that does not start at the genesis record.
    """
    problems: list[str] = []
    expected_prev = expected_first_prev
    for position, record in enumerate(records):
        trace_id = str(record["trace_id"])
        where = f"record #{position} (trace_id={trace_id!r})"
        computed_payload = payload_hash(record["payload"])
        if computed_payload != record["payload_hash"]:
            problems.append(
                f"{where}: payload_hash {record['payload_hash']} does not match its payload "
                f"(recomputed {computed_payload}); the payload was altered"
            )
        if record["prev_hash"] != expected_prev:
            problems.append(
                f"{where}: prev_hash {record['prev_hash']} should be {expected_prev}; "
                "a record is missing, reordered or inserted"
            )
        computed_record = record_hash(
            trace_id, str(record["payload_hash"]), str(record["prev_hash"])
        )
        if computed_record != record["record_hash"]:
            problems.append(
                f"{where}: record_hash {record['record_hash']} should be {computed_record}"
            )
        expected_prev = str(record["record_hash"])
    return problems


# --------------------------------------------------------------------------- service side


class EvidenceError(Exception):
    """Base of the evidence store's errors."""


class DatabaseUnavailable(EvidenceError):
    """The database could not be reached, timed out or failed the operation."""


class InvalidPayload(EvidenceError):
    """The payload cannot be stored as JSON (NaN, NUL characters, ...)."""


@dataclass(frozen=True)
class EvidenceRecord:
    """One row of `evidence_records`.

    `sequence` is the row `id`: it increases in chain order but has gaps (a Postgres sequence
    skips values after rollbacks and after a crash), so count lost records from the chain and
    the acknowledged trace_ids, never from gaps in `sequence`.
    """

    sequence: int
    trace_id: str
    payload: dict[str, Any]
    payload_hash: str
    prev_hash: str
    record_hash: str
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> EvidenceRecord:
        """Build a record from a `dict_row` of `evidence_records`."""
        return cls(
            sequence=int(row["id"]),
            trace_id=str(row["trace_id"]),
            payload=dict(row["payload"]),
            payload_hash=str(row["payload_hash"]),
            prev_hash=str(row["prev_hash"]),
            record_hash=str(row["record_hash"]),
            created_at=row["created_at"],
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON shape returned by `GET /audit/trace/{trace_id}` (and cached in Redis)."""
        return {
            "trace_id": self.trace_id,
            "sequence": self.sequence,
            "payload": self.payload,
            "payload_hash": self.payload_hash,
            "prev_hash": self.prev_hash,
            "record_hash": self.record_hash,
            "created_at": self.created_at.isoformat() if self.created_at is not None else None,
        }


@dataclass(frozen=True)
class AppendResult:
    """What `EvidenceStore.append` did: `created` is False when the trace_id already existed."""

    record: EvidenceRecord
    created: bool


class EvidenceStore:
    """Appends to and reads the evidence chain, one short-lived connection per operation."""

    def __init__(
        self,
        conninfo: str,
        *,
        application_name: str = "eleanor-reference",
        connect_timeout_seconds: float = 1.0,
        operation_timeout_seconds: float = 5.0,
    ) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout_seconds
        self._operation_timeout = operation_timeout_seconds
        self._kwargs = _connection_kwargs(conninfo, application_name, connect_timeout_seconds)
        self.schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def ping(self, timeout: float) -> None:
        """Open a connection and run `SELECT 1`, all within `timeout` seconds."""

        async def select_one(conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
            await conn.execute("SELECT 1")

        await self._run(select_one, timeout=timeout, connect_timeout=timeout)

    async def ensure_schema(self, timeout: float | None = None) -> None:
        """Create `evidence_records` if it does not exist (safe with concurrent replicas)."""
        async with self._schema_lock:
            if self.schema_ready:
                return

            async def create(conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                    await conn.execute(SCHEMA_SQL)

            await self._run(create, timeout=timeout)
            self.schema_ready = True

    async def append(self, trace_id: str, payload: Mapping[str, Any]) -> AppendResult:
        """Append one record for `trace_id`; return the existing one if already recorded.

        Raises `DatabaseUnavailable` or `InvalidPayload`. Creates the table first when the
        database was unreachable at start-up (or the table has been dropped since).
        """
        try:
            canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"payload is not canonical JSON: {exc}") from None
        for attempt in range(3):
            if not self.schema_ready:
                await self.ensure_schema()
            try:
                return await self._run(lambda conn: self._append(conn, trace_id, payload))
            except pg_errors.UndefinedTable:
                self.schema_ready = False
            except pg_errors.UniqueViolation:
                # Inserted by a writer that bypassed the lock: read it back on the next pass.
                if attempt == 2:
                    raise DatabaseUnavailable("trace_id conflict kept recurring") from None
        raise DatabaseUnavailable("evidence_records kept disappearing while appending")

    async def get(self, trace_id: str) -> EvidenceRecord | None:
        """Return the record of `trace_id`, or None when there is none (or no table yet)."""

        async def select(conn: psycopg.AsyncConnection[dict[str, Any]]) -> EvidenceRecord | None:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM evidence_records WHERE trace_id = %s", (trace_id,)
            )
            row = await cur.fetchone()
            return EvidenceRecord.from_row(row) if row is not None else None

        try:
            return await self._run(select)
        except pg_errors.UndefinedTable:
            self.schema_ready = False
            return None

    async def _append(
        self,
        conn: psycopg.AsyncConnection[dict[str, Any]],
        trace_id: str,
        payload: Mapping[str, Any],
    ) -> AppendResult:
        normalized = await _normalize(conn, payload)
        p_hash = payload_hash(normalized)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM evidence_records WHERE trace_id = %s", (trace_id,)
            )
            existing = await cur.fetchone()
            if existing is not None:
                return AppendResult(EvidenceRecord.from_row(existing), created=False)
            cur = await conn.execute(
                "SELECT record_hash FROM evidence_records ORDER BY id DESC LIMIT 1"
            )
            last = await cur.fetchone()
            prev = str(last["record_hash"]) if last is not None else GENESIS_HASH
            r_hash = record_hash(trace_id, p_hash, prev)
            cur = await conn.execute(
                "INSERT INTO evidence_records"
                " (trace_id, payload, payload_hash, prev_hash, record_hash)"
                " VALUES (%s, %s::jsonb, %s, %s, %s) RETURNING id, created_at",
                (trace_id, canonical_json(normalized), p_hash, prev, r_hash),
            )
            inserted = await cur.fetchone()
            assert inserted is not None  # INSERT ... RETURNING always yields the row
        record = EvidenceRecord(
            sequence=int(inserted["id"]),
            trace_id=trace_id,
            payload=normalized,
            payload_hash=p_hash,
            prev_hash=prev,
            record_hash=r_hash,
            created_at=inserted["created_at"],
        )
        return AppendResult(record, created=True)

    async def _run(
        self,
        operation: Callable[[psycopg.AsyncConnection[dict[str, Any]]], Awaitable[T]],
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
    ) -> T:
        """Connect, run `operation`, close; map failures to `DatabaseUnavailable`.

        Schema and data errors the caller handles (`UndefinedTable`, `UniqueViolation`)
        propagate unchanged; `DataError` becomes `InvalidPayload`.
        """
        total = self._operation_timeout if timeout is None else timeout
        connect_limit = min(
            total, self._connect_timeout if connect_timeout is None else connect_timeout
        )

        async def attempt() -> T:
            try:
                conn = await asyncio.wait_for(self._connect(), timeout=connect_limit)
            except TimeoutError:
                raise DatabaseUnavailable(
                    f"could not connect to the database within {connect_limit:g} s"
                ) from None
            try:
                return await operation(conn)
            finally:
                # close() only sends Terminate and frees the socket: it cannot hang.
                await conn.close()

        try:
            return await asyncio.wait_for(attempt(), timeout=total)
        except (pg_errors.UndefinedTable, pg_errors.UniqueViolation):
            raise
        except psycopg.DataError as exc:
            raise InvalidPayload(f"the database rejected the payload: {_first_line(exc)}") from None
        except TimeoutError:
            raise DatabaseUnavailable(f"database did not answer within {total:g} s") from None
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"database error: {_first_line(exc)}") from None
        except OSError as exc:
            raise DatabaseUnavailable(f"database unreachable: {exc}") from None

    async def _connect(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            prepare_threshold=None,
            row_factory=dict_row,
            **self._kwargs,
        )


async def _normalize(
    conn: psycopg.AsyncConnection[dict[str, Any]], payload: Mapping[str, Any]
) -> dict[str, Any]:
    """Return `payload` as it will read back from `jsonb`, so its hash verifies later.

    `jsonb` rewrites some numbers (`1e+16` comes back as `10000000000000000`); hashing the
    round-tripped value keeps the stored hash equal to what verifiers recompute.
    """
    text = canonical_json(payload)
    for _ in range(3):
        cur = await conn.execute("SELECT %s::jsonb AS value", (text,))
        row = await cur.fetchone()
        assert row is not None
        value = row["value"]
        if not isinstance(value, dict):
            raise InvalidPayload("payload must be a JSON object")
        again = canonical_json(value)
        if again == text:
            return value
        text = again
    raise InvalidPayload("payload does not survive a jsonb round trip unchanged")


def _connection_kwargs(
    conninfo: str, application_name: str, connect_timeout_seconds: float
) -> dict[str, Any]:
    """Extra libpq parameters; never overrides what the operator put in the conninfo."""
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        given = {}
    kwargs: dict[str, Any] = {}
    if "connect_timeout" not in given:
        # libpq rounds values below 2 s up to 2 s; asyncio.wait_for enforces the real bound.
        kwargs["connect_timeout"] = max(1, math.ceil(connect_timeout_seconds))
    if "application_name" not in given:
        kwargs["application_name"] = application_name
    options = str(given.get("options") or "")
    kwargs["options"] = f"{options} {_SESSION_OPTIONS}".strip()
    return kwargs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
