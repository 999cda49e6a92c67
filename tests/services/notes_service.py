"""Notes: a small HTTP service of its own, for drilling a service that is not the stand-in.

Written apart from drillbook and from `eleanor_reference` (it imports neither): what a team
would bring to `[stack.app]`. It keeps notes in PostgreSQL, caches them in Redis reached through
Sentinel, and journals every stored note to a JSON-lines file.

    python -m tests.services.notes_service --port 8080

Environment (the service's own names; tests/services/notes.toml maps drillbook's placeholders
onto them):

    NOTES_DB               PostgreSQL DSN (required)
    NOTES_SENTINELS        Redis Sentinels, "host:port,host:port,..." (required)
    NOTES_SENTINEL_MASTER  the Sentinels' master name (default "mymaster")
    NOTES_JWT_SECRET       HS256 secret of the bearer tokens callers present (required)
    NOTES_JSONL            the journal: one JSON line per stored note (required)
    NOTES_REPLICA          a name for this process, stored with each note (default: the pid)
    NOTES_CREATED_STATUS   status of a created note (default 201; 200 also accepted)

Endpoints:

    POST /notes             JSON object, optional "trace_id"; bearer token. Stores the note
                            (committed), then appends it to the journal (fsync'd), then caches
                            it; answers the record. The same trace_id again answers the stored
                            record (200), never a second copy.
    GET  /notes/{trace_id}  bearer token; the record (cache first, then the database), or 404.
    GET  /health            {"status": "ok"|"degraded", "db": "ok"|"down", "cache": "ok"|"down"}:
                            200 only when both dependencies answer now, else 503.

SIGTERM (or SIGINT) stops it within about a second: no new connections, in-flight requests
finished, connections closed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import jwt
import psycopg
import redis
import uvicorn
from fastapi import Body, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

log = logging.getLogger("notes")

DB_CONNECT_TIMEOUT_SECONDS = 2  # libpq's minimum
DB_STATEMENT_TIMEOUT_MS = 2000
CACHE_TIMEOUT_SECONDS = 0.5
CACHE_TTL_SECONDS = 600
IDLE_CONNECTIONS = 8
MAX_TRACE_ID = 200
_SCHEMA_LOCK = 0x6E6F746573  # "notes": one replica creates the table, the others wait

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id          bigserial PRIMARY KEY,
    trace_id    text NOT NULL UNIQUE,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    replica     text NOT NULL,
    record_hash text NOT NULL,
    journaled   boolean NOT NULL DEFAULT false
)
"""

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    dsn: str
    sentinels: tuple[tuple[str, int], ...]
    sentinel_master: str
    jwt_secret: str
    journal: Path
    replica: str
    created_status: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        missing = [
            name
            for name in ("NOTES_DB", "NOTES_SENTINELS", "NOTES_JWT_SECRET", "NOTES_JSONL")
            if not env.get(name)
        ]
        if missing:
            raise SystemExit(f"notes: set {', '.join(missing)} in the environment")
        status = int(env.get("NOTES_CREATED_STATUS") or 201)
        if status not in (200, 201):
            raise SystemExit(f"notes: NOTES_CREATED_STATUS must be 200 or 201, not {status}")
        return cls(
            dsn=env["NOTES_DB"],
            sentinels=tuple(_host_port(part) for part in env["NOTES_SENTINELS"].split(",") if part),
            sentinel_master=env.get("NOTES_SENTINEL_MASTER") or "mymaster",
            jwt_secret=env["NOTES_JWT_SECRET"],
            journal=Path(env["NOTES_JSONL"]),
            replica=env.get("NOTES_REPLICA") or f"notes-{os.getpid()}",
            created_status=status,
        )


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    return host or "127.0.0.1", int(port)


def record_hash(trace_id: str, body: Any, created_at: str) -> str:
    """sha256 of the note as stored; what the journal and the answer both carry."""
    canonical = json.dumps(
        {"trace_id": trace_id, "body": body, "created_at": created_at},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- PostgreSQL


class Database:
    """A few reusable connections; a broken one is dropped and the call made once more on a
    fresh one (a database restart breaks every pooled connection at once)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._idle: list[psycopg.Connection[dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._schema_ready = False

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        conn = psycopg.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=DB_CONNECT_TIMEOUT_SECONDS,
            row_factory=dict_row,
            options=f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
        )
        if not self._schema_ready:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._schema_ready = True
        return conn

    def run(self, work: Callable[[psycopg.Connection[dict[str, Any]]], T]) -> T:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        reused = conn is not None
        if conn is None:
            conn = self._connect()
        try:
            result = work(conn)
        except psycopg.OperationalError:
            conn.close()
            if not reused:
                raise
            # A pooled connection that died with the server: once more on a fresh one. Every
            # write below is idempotent (keyed by trace_id), so a retry never stores twice.
            conn = self._connect()
            try:
                result = work(conn)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS and not conn.closed:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def ping(self) -> bool:
        try:
            return self.run(lambda c: c.execute("SELECT 1 AS one").fetchone()) is not None
        except psycopg.Error as exc:
            log.warning("database check failed: %s", _first_line(exc))
            return False

    def insert(
        self, trace_id: str, body: Any, created_at: str, replica: str, digest: str
    ) -> tuple[dict[str, Any], bool]:
        """The stored row and whether this call created it (False: it was there already)."""

        def work(conn: psycopg.Connection[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
            row = conn.execute(
                "INSERT INTO notes (trace_id, body, created_at, replica, record_hash) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (trace_id) DO NOTHING RETURNING *",
                (trace_id, Jsonb(body), created_at, replica, digest),
            ).fetchone()
            if row is not None:
                return row, True
            existing = conn.execute(
                "SELECT * FROM notes WHERE trace_id = %s", (trace_id,)
            ).fetchone()
            if existing is None:  # deleted between the two statements: try again
                raise psycopg.OperationalError("note vanished during insert")
            return existing, False

        return self.run(work)

    def mark_journaled(self, note_id: int) -> None:
        self.run(lambda c: c.execute("UPDATE notes SET journaled = true WHERE id = %s", (note_id,)))

    def get(self, trace_id: str) -> dict[str, Any] | None:
        return self.run(
            lambda c: c.execute("SELECT * FROM notes WHERE trace_id = %s", (trace_id,)).fetchone()
        )


# --------------------------------------------------------------------------- Redis


class Cache:
    """Redis through Sentinel: the master is looked up again whenever a connection breaks, so a
    failover is followed. Every call is best effort with short timeouts."""

    def __init__(self, sentinels: tuple[tuple[str, int], ...], master: str) -> None:
        no_retry = Retry(NoBackoff(), 0)
        timeout = CACHE_TIMEOUT_SECONDS
        self._sentinel = Sentinel(
            list(sentinels),
            socket_timeout=timeout,
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": no_retry,
            },
        )
        self._client = self._sentinel.master_for(
            master,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=no_retry,
        )

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError as exc:
            log.warning("cache check failed: %s", _first_line(exc))
            return False

    def get(self, key: str) -> str | None:
        try:
            value = self._client.get(key)
        except redis.RedisError as exc:
            log.warning("cache read failed: %s", _first_line(exc))
            return None
        return value if isinstance(value, str) else None

    def put(self, key: str, value: str) -> None:
        try:
            self._client.set(key, value, ex=CACHE_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("cache write failed: %s", _first_line(exc))

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._client.close()


# --------------------------------------------------------------------------- the journal


class Journal:
    """Append-only JSON lines, shared by every replica: one write per line under an exclusive
    lock, fsync'd before the call returns."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock


# --------------------------------------------------------------------------- the app


def record_of(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    return {
        "id": int(row["id"]),
        "trace_id": row["trace_id"],
        "body": row["body"],
        "created_at": (
            created.astimezone(UTC).isoformat() if isinstance(created, datetime) else str(created)
        ),
        "replica": row["replica"],
        "record_hash": row["record_hash"],
    }


def _cache_key(trace_id: str) -> str:
    return f"notes:{trace_id}"


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit] + "..."


def bearer_subject(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller: a bearer JWT (HS256) signed with NOTES_JWT_SECRET, not expired."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer token is required")
    try:
        claims = jwt.decode(
            token,
            request.app.state.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["exp"]},
        )
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401, f"invalid token: {exc}") from None
    return str(claims.get("sub", ""))


Caller = Annotated[str, Depends(bearer_subject)]


def create_app(settings: Settings) -> FastAPI:
    database = Database(settings.dsn)
    cache = Cache(settings.sentinels, settings.sentinel_master)
    journal = Journal(settings.journal)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        database.close()
        cache.close()

    app = FastAPI(title="notes", lifespan=lifespan)
    app.state.jwt_secret = settings.jwt_secret

    @app.post("/notes")
    def create_note(caller: Caller, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        trace_id = body.get("trace_id")
        if trace_id is None:
            trace_id = f"note-{uuid.uuid4().hex}"
        if not isinstance(trace_id, str) or not 0 < len(trace_id) <= MAX_TRACE_ID:
            raise HTTPException(422, f"trace_id: a string of 1 to {MAX_TRACE_ID} characters")
        content = {k: v for k, v in body.items() if k != "trace_id"}
        created_at = datetime.now(UTC).isoformat()
        digest = record_hash(trace_id, content, created_at)
        try:
            row, created = database.insert(trace_id, content, created_at, settings.replica, digest)
        except psycopg.Error as exc:
            log.warning("note %s not stored: %s", trace_id, _first_line(exc))
            return JSONResponse({"error": "database unavailable"}, status_code=503)
        if not created and row["body"] != content:
            raise HTTPException(409, f"trace_id {trace_id} is stored with another body")
        record = record_of(row)
        if not row["journaled"]:
            # Only a committed note reaches the journal; a note whose journal line could not
            # be written is not acknowledged (a retry of the same trace_id writes it).
            try:
                journal.append(record)
            except OSError as exc:
                log.error("note %s not journaled: %s", trace_id, exc)
                return JSONResponse({"error": "journal unavailable"}, status_code=500)
            try:
                database.mark_journaled(record["id"])
            except psycopg.Error as exc:  # journaled all the same; a retry may repeat the line
                log.warning("note %s journaled but not marked: %s", trace_id, _first_line(exc))
        cache.put(_cache_key(trace_id), json.dumps(record))
        return JSONResponse(record, status_code=settings.created_status if created else 200)

    @app.get("/notes/{trace_id}")
    def read_note(caller: Caller, trace_id: str) -> JSONResponse:
        cached = cache.get(_cache_key(trace_id))
        if cached is not None:
            return JSONResponse(json.loads(cached))
        try:
            row = database.get(trace_id)
        except psycopg.Error as exc:
            log.warning("note %s not read: %s", trace_id, _first_line(exc))
            return JSONResponse({"error": "database unavailable"}, status_code=503)
        if row is None:
            raise HTTPException(404, f"no note {trace_id}")
        record = record_of(row)
        cache.put(_cache_key(trace_id), json.dumps(record))
        return JSONResponse(record)

    @app.get("/health")
    def health() -> JSONResponse:
        db_ok = database.ping()
        cache_ok = cache.ping()
        ok = db_ok and cache_ok
        return JSONResponse(
            {
                "status": "ok" if ok else "degraded",
                "db": "ok" if db_ok else "down",
                "cache": "ok" if cache_ok else "down",
                "replica": settings.replica,
            },
            status_code=200 if ok else 503,
        )

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s notes %(levelname)s %(message)s")
    settings = Settings.from_env()
    # uvicorn stops on SIGTERM and SIGINT: it stops accepting, lets in-flight requests finish
    # (at most 1 s here), closes idle keep-alive connections and runs the lifespan's shutdown.
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
