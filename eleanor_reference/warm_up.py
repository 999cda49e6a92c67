"""A replica's start-up warm-up: first contact with each dependency before it takes traffic.

A replica's first call to a dependency costs far more than the ones after it. The Weaviate
client's first connect imports its HTTP stack and builds its TLS context and gRPC channel on the
event loop (a 1.1 s stall of the whole loop measured on a busy 2-core machine, 40 ms after);
Redis finds its master through the Sentinels first (0.1 s). Paid by the first `/health` of a
freshly restarted replica, that stall ate the 0.5 s bound of the database check running beside
it, and the replica answered 503 although its database was fine: one unhealthy sample after
recovery in the secrets drills, whose runbook ends with a rolling restart.

So every first contact happens here, in the background from start-up on, and `/readyz` answers
503 until it is done: the proxy (and a pod's readinessProbe) sends no traffic to a replica that
has not yet reached its database once. The database is required (retried until it answers: a
replica that never reached its database cannot serve); the other dependencies are contacted
once, successful or not (one that is down makes the service degraded, which is `/health`'s
business, not a reason to take no traffic). Once warm, readiness no longer follows the database:
an outage reaches users' requests as the 503 it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

RETRY_SECONDS = 0.5
"""Pause between two attempts to reach the database at start-up."""
MAX_ATTEMPTS = 7200
"""Attempts before giving up (an hour at RETRY_SECONDS): the replica then stays not ready."""


@dataclass
class WarmUp:
    """Where the replica's warm-up stands (read by `/readyz`)."""

    database_reached: bool = False
    first_contacts_done: bool = False
    database_problem: str | None = None

    def problem(self) -> str | None:
        """None once warm, else why the replica is not ready yet."""
        if not self.database_reached:
            why = f": {self.database_problem}" if self.database_problem else ""
            return f"warming up: the database has not been reached yet{why}"
        if not self.first_contacts_done:
            return "warming up: first contact with the cache and the precedent store"
        return None

    async def run(
        self,
        *,
        reach_database: Callable[[], Awaitable[str | None]],
        first_contacts: Sequence[Callable[[], Awaitable[object]]],
        logger: logging.Logger,
    ) -> None:
        """Contact the optional dependencies once, then reach the database (retried).

        `reach_database` returns None when the database answered, else the reason; each
        first contact is bounded by its own timeout, and its failure is ignored here.
        """
        for contact in first_contacts:
            with contextlib.suppress(Exception):
                await contact()
        self.first_contacts_done = True
        for attempt in range(MAX_ATTEMPTS):
            problem = await reach_database()
            if problem is None:
                self.database_reached, self.database_problem = True, None
                if attempt:
                    logger.info("database reached after %d attempts: ready", attempt + 1)
                return
            self.database_problem = problem
            if attempt == 0:
                logger.warning(
                    "database not reached at start-up (not ready, retrying): %s", problem
                )
            await asyncio.sleep(RETRY_SECONDS)
        logger.error(
            "database not reached in %d attempts: this replica stays not ready", MAX_ATTEMPTS
        )
