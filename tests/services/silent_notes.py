"""The notes service with exactly one defect: it says nothing when its cache is gone.

The notes service already treats its cache as best effort: a read the cache cannot answer goes
to the database, a cache write that fails is skipped, so without Redis every request still
succeeds, only slower and from the database. Its /health says so (cache "down", 503). This one's
/health reports cache "ok" whatever Redis does (the database is still checked honestly): with
Redis dead, nothing it exposes changes, no health field, no error. Its operators learn of the
outage from the database's load, not from the service: the silent-degradation finding
(drillbook.companions.silent_degradation). Everything else is the notes service
(tests/services/notes_service.py) unchanged.

    python -m tests.services.silent_notes --port 8080
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from tests.services.health_route import replace_health
from tests.services.notes_service import Database, Settings, create_app


def create_silent_app(settings: Settings) -> FastAPI:
    database = Database(settings.dsn)
    # The defect: the cache is reported "ok" without being asked.
    return replace_health(
        create_app(settings),
        replica=settings.replica,
        checks=lambda: {"db": database.ping(), "cache": True},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_silent_app(Settings.from_env()),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
