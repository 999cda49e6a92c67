"""A rotated signing secret reaches every client of the tokens at once.

After a leaked secret's rotation the load kept sending tokens signed with the old secret for up
to a second (its refresh period plus Locust's poll), every one refused with 401: a burst of
errors after recovery that was the load's lag, not the service's."""

from __future__ import annotations

import threading
from pathlib import Path

import jwt
import pytest

import drillbook.load.companion as companion_module
from drillbook.config.loader import load_config
from drillbook.config.sections.auth import AuthSettings
from drillbook.load.companion import LoadCompanion
from drillbook.probes.auth import TokenProvider

OLD = "old-signing-secret-0123456789abcdef"
NEW = "new-signing-secret-fedcba9876543210"


def _provider() -> TokenProvider:
    return TokenProvider(AuthSettings(kind="jwt"), secret=OLD)


def test_a_waiter_wakes_on_a_rotation_with_the_new_generation() -> None:
    tokens = _provider()
    seen = tokens.generation
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(tokens.wait_for_rotation(seen, 3600)))
    waiter.start()
    tokens.rotate(NEW)
    waiter.join(timeout=30)
    assert not waiter.is_alive(), "a rotation did not wake the waiter"
    assert woke == [seen + 1]


def test_without_a_rotation_the_wait_ends_at_its_timeout_with_the_same_generation() -> None:
    tokens = _provider()
    assert tokens.wait_for_rotation(tokens.generation, 0.01) == tokens.generation


def test_a_waiter_that_missed_a_rotation_returns_at_once() -> None:
    tokens = _provider()
    seen = tokens.generation
    tokens.rotate(NEW)
    assert tokens.wait_for_rotation(seen, 3600) == seen + 1


def test_the_loads_token_file_follows_a_rotation_without_waiting_for_its_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour-long refresh period: only the wake-up on rotation can write the new token.
    monkeypatch.setattr(companion_module, "TOKEN_REFRESH_SECONDS", 3600.0)
    tokens = _provider()
    load = LoadCompanion(load_config(None), tokens=tokens)
    token_file = tmp_path / "token"
    written = threading.Event()
    real_write = load._write_token

    def write_and_tell(path: Path) -> None:
        real_write(path)
        written.set()

    monkeypatch.setattr(load, "_write_token", write_and_tell)
    refresher = threading.Thread(target=load._refresh_tokens, args=(token_file,), daemon=True)
    refresher.start()
    try:
        tokens.rotate(NEW)
        assert written.wait(30), "the rotated token was not written"
        claims = jwt.decode(token_file.read_text(), NEW, algorithms=["HS256"])
        assert claims["sub"] == "drillbook"
    finally:
        load._token_stop.set()
        tokens.rotate(NEW)  # wakes the refresher so that it sees the stop
        refresher.join(timeout=30)
    assert not refresher.is_alive()
