"""The notes service with exactly one defect: it acknowledges a note before storing it.

POST /notes answers as soon as the note is in an in-memory buffer (a write-behind buffer), which
is stored when it holds BUFFER_LIMIT notes and when the process stops gracefully, each note as
the notes service stores one (committed to PostgreSQL, then journaled, then cached). A kill
loses every note the process acknowledged and still holds: the buffered-writes-lost finding
(drillbook.companions.buffered_writes). A graceful stop (SIGTERM) stores the buffer before the
process exits, so it loses nothing. No timer stores it: a kill then always finds what the
replica acknowledged since it started, whenever it comes (a periodic flush would make the
loss depend on the kill's phase against the flush, and the test on luck). Everything else is
the notes service (tests/services/notes_service.py): its storage, cache, journal, tokens and
health endpoint, imported.

    python -m tests.services.buffered_notes --port 8080

POST /notes answers the record the notes service answers, with "id" null: the note has no row
yet. GET /notes/{trace_id} answers from this process's buffer first, then as the notes service
does (cache, then database): a note still buffered by another replica is not found until that
replica flushes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
import uvicorn
from fastapi import Body, FastAPI, HTTPException
from fastapi.responses import JSONResponse

from tests.services.notes_service import (
    MAX_TRACE_ID,
    Cache,
    Caller,
    Database,
    Journal,
    Settings,
    _cache_key,
    _first_line,
    record_hash,
    record_of,
)

log = logging.getLogger("notes")

BUFFER_LIMIT = 10_000
"""Notes held before the buffer is stored: more than a drill's ledger sends to one replica."""


@dataclass(frozen=True)
class PendingNote:
    """A note acknowledged and not yet stored."""

    trace_id: str
    content: dict[str, Any]
    created_at: str
    digest: str

    def record(self, replica: str) -> dict[str, Any]:
        """The notes service's record of this note; no row yet, so no id."""
        return {
            "id": None,
            "trace_id": self.trace_id,
            "body": self.content,
            "created_at": self.created_at,
            "replica": replica,
            "record_hash": self.digest,
        }


class WriteBuffer:
    """Acknowledged notes in acknowledgement order, stored once `limit` of them are held and by
    `close`. A note leaves the buffer only once stored, so reads find it here until then; one
    that cannot be stored now (the database is down) waits for the next flush, with every note
    after it (the order is kept)."""

    def __init__(self, store: Callable[[PendingNote], None], limit: int) -> None:
        self._store = store
        self._limit = limit
        self._pending: dict[str, PendingNote] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    def add(self, note: PendingNote) -> PendingNote | None:
        """Buffer `note`; the note already buffered under its trace id, if there is one."""
        with self._lock:
            existing = self._pending.get(note.trace_id)
            if existing is None:
                self._pending[note.trace_id] = note
            full = len(self._pending) >= self._limit
        if full:
            self.flush()
        return existing

    def get(self, trace_id: str) -> PendingNote | None:
        with self._lock:
            return self._pending.get(trace_id)

    def flush(self) -> int:
        """Store what is buffered now, oldest first; how many notes were stored."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending.values())
            stored = 0
            for note in batch:
                try:
                    self._store(note)
                except (psycopg.Error, OSError) as exc:
                    log.warning(
                        "flush stopped at note %s (%d left buffered): %s",
                        note.trace_id,
                        len(batch) - stored,
                        _first_line(exc),
                    )
                    break
                with self._lock:
                    self._pending.pop(note.trace_id, None)
                stored += 1
            return stored

    def close(self) -> None:
        """Store what is left: a graceful stop loses nothing."""
        self.flush()


def create_app(settings: Settings, *, buffer_limit: int = BUFFER_LIMIT) -> FastAPI:
    database = Database(settings.dsn)
    cache = Cache(settings.sentinels, settings.sentinel_master)
    journal = Journal(settings.journal)

    def store(note: PendingNote) -> None:
        """What the notes service does before it answers, done here after."""
        row, _ = database.insert(
            note.trace_id, note.content, note.created_at, settings.replica, note.digest
        )
        if row["body"] != note.content:
            # The trace id was stored with another body; the notes service answers 409, too
            # late for that here: the note is dropped.
            log.error("note %s dropped: its trace_id is stored with another body", note.trace_id)
            return
        record = record_of(row)
        if not row["journaled"]:
            journal.append(record)
            try:
                database.mark_journaled(record["id"])
            except psycopg.Error as exc:  # journaled all the same; a retry may repeat the line
                log.warning("note %s journaled but not marked: %s", note.trace_id, _first_line(exc))
        cache.put(_cache_key(note.trace_id), json.dumps(record))

    buffer = WriteBuffer(store, buffer_limit)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # uvicorn runs this after SIGTERM, once in-flight requests have finished.
        buffer.close()
        database.close()
        cache.close()

    app = FastAPI(title="notes (buffered)", lifespan=lifespan)
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
        note = PendingNote(
            trace_id, content, created_at, record_hash(trace_id, content, created_at)
        )
        existing = buffer.add(note)
        if existing is not None:
            if existing.content != content:
                raise HTTPException(409, f"trace_id {trace_id} is buffered with another body")
            return JSONResponse(existing.record(settings.replica), status_code=200)
        # The defect: acknowledged here, stored by the next flush.
        return JSONResponse(note.record(settings.replica), status_code=settings.created_status)

    @app.get("/notes/{trace_id}")
    def read_note(caller: Caller, trace_id: str) -> JSONResponse:
        pending = buffer.get(trace_id)
        if pending is not None:
            return JSONResponse(pending.record(settings.replica))
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
    # As the notes service: uvicorn stops on SIGTERM, lets in-flight requests finish (at most
    # 1 s), then runs the lifespan's shutdown, which stores the buffer.
    uvicorn.run(
        create_app(Settings.from_env()),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
