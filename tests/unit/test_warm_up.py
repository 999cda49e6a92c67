"""A replica's warm-up (eleanor_reference/warm_up.py): when /readyz may say ready.

The same path against a real PostgreSQL: tests/integration/test_reference_service.py (a replica
started while the database is down is not ready until it comes back).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from eleanor_reference import warm_up
from eleanor_reference.warm_up import WarmUp

LOGGER = logging.getLogger("test-warm-up")


def test_not_ready_until_the_database_answers_after_every_first_contact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(warm_up, "RETRY_SECONDS", 0.001)
    state = WarmUp()
    calls: list[str] = []
    answers = iter(["connection refused", "connection refused", None])

    async def reach_database() -> str | None:
        calls.append("database")
        assert state.first_contacts_done, "the database comes after the first contacts"
        problem = next(answers)
        if problem is not None:
            assert state.problem() is not None
        return problem

    async def cache() -> None:
        calls.append("cache")
        raise ConnectionError("redis down")  # a dependency down is /health's business

    async def precedents() -> None:
        calls.append("precedents")

    assert state.problem() == "warming up: the database has not been reached yet"
    asyncio.run(
        state.run(reach_database=reach_database, first_contacts=(cache, precedents), logger=LOGGER)
    )
    assert calls == ["cache", "precedents", "database", "database", "database"]
    assert state.problem() is None and state.database_reached


def test_gives_up_after_its_bound_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_up, "RETRY_SECONDS", 0.0)
    monkeypatch.setattr(warm_up, "MAX_ATTEMPTS", 3)
    state = WarmUp()
    attempts = 0

    async def reach_database() -> str | None:
        nonlocal attempts
        attempts += 1
        return "could not connect to the database within 2 s"

    asyncio.run(state.run(reach_database=reach_database, first_contacts=(), logger=LOGGER))
    assert attempts == 3
    assert state.problem() == (
        "warming up: the database has not been reached yet: "
        "could not connect to the database within 2 s"
    )
