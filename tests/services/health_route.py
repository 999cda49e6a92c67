"""A notes service's /health replaced by one whose checks a purpose-built service chooses.

The notes service (tests/services/notes_service.py) checks both of its dependencies in /health;
the services with one defect in that check (blind_notes, silent_notes) swap the route for one
answering in the same shape, from the checks they pass, and change nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

HealthChecks = Callable[[], Mapping[str, bool]]
"""The dependencies' checks by the field naming each ("db", "cache"): True when it answers."""


def replace_health(app: FastAPI, *, replica: str, checks: HealthChecks) -> FastAPI:
    """`app` with its GET /health answering from `checks`: {"status": "ok"|"degraded", one
    "ok"|"down" field per check, "replica"}, 200 when every check passes, else 503."""
    kept = [r for r in app.router.routes if not (isinstance(r, APIRoute) and r.path == "/health")]
    if len(kept) != len(app.router.routes) - 1:
        raise RuntimeError("the notes app has no single GET /health route to replace")
    app.router.routes[:] = kept

    @app.get("/health")
    def health() -> JSONResponse:
        results = dict(checks())
        ok = all(results.values())
        return JSONResponse(
            {
                "status": "ok" if ok else "degraded",
                **{name: "ok" if passed else "down" for name, passed in results.items()},
                "replica": replica,
            },
            status_code=200 if ok else 503,
        )

    return app
