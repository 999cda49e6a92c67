"""The reference service's secrets loader (cache TTL, no stale secret after a failure), its
settings, the LLM stub's key check, and the launcher's environment overlay."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from drillbook.platforms.env_overlay import apply_overlay, read_overlay
from drillbook.stack.launch import launch_command
from eleanor_reference.secrets_loader import (
    JWT_SECRET,
    LLM_API_KEY,
    SecretsLoader,
    SecretsSettings,
    SecretsSettingsError,
    SecretUnavailable,
    loader_for,
)
from eleanor_reference.secrets_routes import stub_accepts
from eleanor_reference.settings import Settings, SettingsError


class FakeProvider:
    def __init__(self) -> None:
        self.value: str | None = "v1-secret"
        self.calls = 0

    def __call__(self, secret: str) -> str:
        self.calls += 1
        if self.value is None:
            raise SecretUnavailable(
                "vault", f"secret/eleanor/prod/{secret}", "not found or deleted"
            )
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_values_are_cached_for_the_ttl_and_never_served_stale() -> None:
    provider, clock = FakeProvider(), Clock()
    loader = SecretsLoader(
        SecretsSettings(provider="vault", cache_ttl_seconds=10), fetch=provider, clock=clock
    )

    async def scenario() -> None:
        assert await loader.get(JWT_SECRET) == "v1-secret"
        provider.value = None  # deleted at the provider
        clock.now += 5
        assert await loader.get(JWT_SECRET) == "v1-secret"  # within the TTL: cached
        assert provider.calls == 1
        clock.now += 6  # expired: fetched again, fails, and the old value is gone
        with pytest.raises(SecretUnavailable, match="not found or deleted"):
            await loader.get(JWT_SECRET)
        provider.value = "v2-secret"
        clock.now += 1  # past the failure hold
        assert await loader.get(JWT_SECRET) == "v2-secret"

    asyncio.run(scenario())


def test_check_reports_each_needed_secret() -> None:
    provider = FakeProvider()
    # Without an LLM API configured, the service needs (and reports) its JWT secret only.
    alone = SecretsLoader(SecretsSettings(provider="vault"), fetch=provider)
    assert asyncio.run(alone.check()) == {JWT_SECRET: None}
    with_llm = SecretsSettings(provider="vault", llm_api_url="http://127.0.0.1:1/llm")
    loader = SecretsLoader(with_llm, fetch=provider)
    assert asyncio.run(loader.check()) == {JWT_SECRET: None, LLM_API_KEY: None}
    provider.value = None
    fresh = SecretsLoader(with_llm, fetch=provider)
    problems = asyncio.run(fresh.check())
    problem = problems[JWT_SECRET]
    assert problem is not None and "secret/eleanor/prod/jwt-secret" in problem


def test_env_provider_takes_the_service_jwt_secret() -> None:
    loader = loader_for(SecretsSettings(), jwt_secret="from-settings-secret")
    assert asyncio.run(loader.get(JWT_SECRET)) == "from-settings-secret"
    with pytest.raises(SecretUnavailable, match=r"\$ELEANOR_LLM_API_KEY: the variable is not set"):
        asyncio.run(loader.get(LLM_API_KEY))


def test_settings_from_env_and_names() -> None:
    settings = SecretsSettings.from_env(
        {
            "ELEANOR_SECURITY__SECRET_PROVIDER": "aws",
            "ELEANOR_SECURITY__SECRETS_CACHE_TTL": "1",
            "JWT_SECRET": "ignored-by-aws",
        }
    )
    assert settings.cache_ttl_seconds == 1.0
    assert settings.path_of(JWT_SECRET) == "eleanor/prod/jwt-secret"
    vault = SecretsSettings.from_env(
        {
            "ELEANOR_SECURITY__SECRET_PROVIDER": "vault",
            "VAULT_ADDR": "http://127.0.0.1:8200",
            "ELEANOR_SECURITY__VAULT_TOKEN_FILE": "/run/token",
        }
    )
    assert vault.location(JWT_SECRET) == "secret/eleanor/prod/jwt-secret"
    assert "ignored-by-aws" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ELEANOR_SECURITY__SECRET_PROVIDER": "azure"}, "expected one of env, aws, vault"),
        ({"ELEANOR_SECURITY__SECRETS_CACHE_TTL": "soon"}, "not a number of seconds"),
        ({"ELEANOR_SECURITY__SECRET_PROVIDER": "vault"}, "needs VAULT_ADDR"),
        (
            {"ELEANOR_SECURITY__SECRET_PROVIDER": "vault", "VAULT_ADDR": "http://x:1"},
            "needs VAULT_TOKEN or ELEANOR_SECURITY__VAULT_TOKEN_FILE",
        ),
    ],
)
def test_bad_settings_fail_at_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(SecretsSettingsError, match=message):
        SecretsSettings.from_env(env)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_stub_accepts_only_the_configured_key() -> None:
    digest = hashlib.sha256(b"llm-key-123").hexdigest()
    assert stub_accepts("Bearer llm-key-123", digest)
    assert not stub_accepts("Bearer llm-key-124", digest)
    assert not stub_accepts("llm-key-123", digest)
    assert not stub_accepts("Bearer llm-key-123", None)
    assert not stub_accepts(None, digest)


def test_launcher_overlay_sets_and_unsets(tmp_path: Path) -> None:
    overlay = tmp_path / "app.json"
    assert read_overlay(overlay) == {}
    overlay.write_text(json.dumps({"ELEANOR_SECURITY__SECRET_PROVIDER": "env", "JWT_SECRET": None}))
    environ = {"JWT_SECRET": "old", "KEEP": "1"}
    apply_overlay(environ, read_overlay(overlay))
    assert environ == {"ELEANOR_SECURITY__SECRET_PROVIDER": "env", "KEEP": "1"}
    overlay.write_text('["not", "an", "object"]')
    with pytest.raises(ValueError, match="expected a JSON object"):
        read_overlay(overlay)
    command = launch_command(["uvicorn", "app"], env_file=overlay, discard_stdout=True)
    assert command[-3:] == ["--", "uvicorn", "app"]
    assert "--discard-stdout" in command and str(overlay) in command


def test_a_refresh_the_provider_refuses_drops_the_value_before_the_ttl() -> None:
    provider, clock = FakeProvider(), Clock()
    loader = SecretsLoader(
        SecretsSettings(provider="vault", cache_ttl_seconds=10), fetch=provider, clock=clock
    )

    async def scenario() -> None:
        assert await loader.get(JWT_SECRET) == "v1-secret"
        provider.value = None  # revoked at the provider
        clock.now += 6  # past half the TTL: served from the cache, refreshed in the background
        assert await loader.get(JWT_SECRET) == "v1-secret"
        for _ in range(100):  # let the background refresh (a thread) answer
            await asyncio.sleep(0.01)
            if provider.calls == 2:
                break
        await asyncio.sleep(0.01)
        with pytest.raises(SecretUnavailable):
            await loader.get(JWT_SECRET)  # still within the TTL, yet no longer accepted

    asyncio.run(scenario())
