"""The notes service with exactly one defect: its /health does not check the database.

/health answers 200 with db "ok" whatever PostgreSQL does; the cache is still checked honestly
(a cache outage shows). While the database is down every POST /notes fails (503) and the service
calls itself healthy, so whatever acts on its health endpoint (a load balancer, an orchestrator,
alerting) keeps it in rotation and pages no one: the health-blind-spot finding
(drillbook.companions.health_blind_spot). Everything else is the notes service
(tests/services/notes_service.py) unchanged.

    python -m tests.services.blind_notes --port 8080
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from tests.services.health_route import replace_health
from tests.services.notes_service import Cache, Settings, create_app


def create_blind_app(settings: Settings) -> FastAPI:
    cache = Cache(settings.sentinels, settings.sentinel_master)
    # The defect: the database is reported "ok" without being asked.
    return replace_health(
        create_app(settings),
        replica=settings.replica,
        checks=lambda: {"db": True, "cache": cache.ping()},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_blind_app(Settings.from_env()),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
