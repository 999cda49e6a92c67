"""Where the reference service gets its JWT secret and its LLM API key, as ELEANOR V8 does.

`ELEANOR_SECURITY__SECRET_PROVIDER` picks the provider:

- `env`: the variables `JWT_SECRET` and `ELEANOR_LLM_API_KEY` (the plan's Option A fallback);
- `aws`: AWS Secrets Manager, secrets `<prefix><environment>/jwt-secret` and `.../llm-api-key`
  (prefix `eleanor/`, environment `prod`: the plan's `eleanor/prod/jwt-secret`), as SecretString;
- `vault`: Vault/OpenBao KV v2 at mount `secret`, paths `eleanor/<environment>/jwt-secret`,
  field `value` (the plan's `secret/eleanor/prod/jwt-secret`); the token comes from `VAULT_TOKEN`
  or, re-read on every fetch, from the file `ELEANOR_SECURITY__VAULT_TOKEN_FILE` (a Vault Agent
  sink), so a re-issued token is picked up without a restart.

Values are cached for `ELEANOR_SECURITY__SECRETS_CACHE_TTL` seconds (300 by default, as ELEANOR)
and refreshed in the background from half the TTL on. An expired value is never served after a
failed fetch, and a refresh the provider refuses (deleted, denied, unreachable) drops the value at
once: a revoked or deleted secret stops working within one TTL, which is what the secrets drill
measures. Nothing here logs or returns a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drillbook.core.contracts import (
    API_KEY_ENV,
    JWT_ENV,
    JWT_SECRET_NAME,
    LLM_API_KEY_NAME,
    PROVIDER_ENV,
)

JWT_SECRET = JWT_SECRET_NAME
LLM_API_KEY = LLM_API_KEY_NAME
SECRET_NAMES = (JWT_SECRET, LLM_API_KEY)
ENV_VARIABLES = {JWT_SECRET: JWT_ENV, LLM_API_KEY: API_KEY_ENV}
"""The variables the `env` provider reads (and the plan's `kubectl set env` sets)."""

Provider = Literal["env", "aws", "vault"]
PROVIDERS: tuple[Provider, ...] = ("env", "aws", "vault")
DEFAULT_CACHE_TTL_SECONDS = 300.0
# After a failed fetch, requests within this long get the same error without asking again, so a
# dead provider is not hammered by every request (bounded by the TTL itself).
FAILURE_HOLD_SECONDS = 0.5


class SecretsSettingsError(ValueError):
    """An ELEANOR_SECURITY__* variable holds a value the service cannot use."""


class SecretUnavailable(Exception):
    """A secret could not be loaded; the message names provider and path, never the value."""

    def __init__(self, provider: str, location: str, reason: str) -> None:
        super().__init__(f"{provider} secret {location}: {reason}")
        self.provider = provider
        self.location = location
        self.reason = reason


@dataclass(frozen=True)
class SecretsSettings:
    """How this process finds its secrets (read from the environment once, at start-up)."""

    provider: Provider = "env"
    cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS
    environment: str = "prod"
    aws_prefix: str = "eleanor/"
    vault_addr: str | None = None
    vault_token: str | None = field(default=None, repr=False)
    vault_token_file: str | None = None
    vault_mount: str = "secret"
    vault_field: str = "value"
    env_values: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The `env` provider's values, by secret name."""
    timeout_seconds: float = 1.0
    """Upper bound of one fetch from the provider."""
    llm_api_url: str | None = None
    """Base URL of the LLM API the API key is for (outbound calls); None: not configured."""
    llm_stub_key_sha256: str | None = None
    """SHA-256 (hex) of the key the built-in LLM stub accepts; None: the stub refuses all."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SecretsSettings:
        raw_provider = (env.get(PROVIDER_ENV) or "env").strip().lower()
        provider: Provider | None = next((p for p in PROVIDERS if p == raw_provider), None)
        if provider is None:
            raise SecretsSettingsError(
                f"ELEANOR_SECURITY__SECRET_PROVIDER={raw_provider!r} is not supported; expected "
                f"one of {', '.join(PROVIDERS)}"
            )
        raw_ttl = env.get("ELEANOR_SECURITY__SECRETS_CACHE_TTL") or ""
        ttl = DEFAULT_CACHE_TTL_SECONDS
        if raw_ttl.strip():
            try:
                ttl = float(raw_ttl)
            except ValueError:
                ttl = -1.0
            if ttl < 0:
                raise SecretsSettingsError(
                    f"ELEANOR_SECURITY__SECRETS_CACHE_TTL={raw_ttl!r} is not a number of seconds "
                    ">= 0; expected e.g. 300"
                )
        settings = cls(
            provider=provider,
            cache_ttl_seconds=ttl,
            environment=env.get("ELEANOR_SECURITY__ENVIRONMENT") or "prod",
            aws_prefix=env.get("ELEANOR_SECURITY__AWS_SECRET_PREFIX") or "eleanor/",
            vault_addr=env.get("VAULT_ADDR") or None,
            vault_token=env.get("VAULT_TOKEN") or None,
            vault_token_file=env.get("ELEANOR_SECURITY__VAULT_TOKEN_FILE") or None,
            vault_mount=(env.get("ELEANOR_SECURITY__VAULT_MOUNT") or "secret").strip("/"),
            env_values={
                name: env[variable] for name, variable in ENV_VARIABLES.items() if env.get(variable)
            },
            llm_api_url=env.get("ELEANOR_LLM_API_URL") or None,
            llm_stub_key_sha256=env.get("ELEANOR_LLM_STUB_KEY_SHA256") or None,
        )
        if provider == "vault" and not settings.vault_addr:
            raise SecretsSettingsError(
                "ELEANOR_SECURITY__SECRET_PROVIDER=vault needs VAULT_ADDR (e.g. "
                "http://127.0.0.1:8200)"
            )
        if provider == "vault" and not (settings.vault_token or settings.vault_token_file):
            raise SecretsSettingsError(
                "ELEANOR_SECURITY__SECRET_PROVIDER=vault needs VAULT_TOKEN or "
                "ELEANOR_SECURITY__VAULT_TOKEN_FILE"
            )
        return settings

    def path_of(self, secret: str) -> str:
        """The secret's name in the provider (a variable name for `env`)."""
        if self.provider == "aws":
            return f"{self.aws_prefix}{self.environment}/{secret}"
        if self.provider == "vault":
            return f"eleanor/{self.environment}/{secret}"
        return ENV_VARIABLES[secret]

    def location(self, secret: str) -> str:
        """How an operator would name it: `secret/eleanor/prod/jwt-secret`, `$JWT_SECRET`."""
        if self.provider == "vault":
            return f"{self.vault_mount}/{self.path_of(secret)}"
        if self.provider == "env":
            return f"${self.path_of(secret)}"
        return self.path_of(secret)


Fetch = Callable[[str], str]
"""Reads one secret (by name) from the provider; raises SecretUnavailable."""


@dataclass
class _Entry:
    value: str | None = field(default=None, repr=False)
    fetched_at: float = 0.0
    error: SecretUnavailable | None = None
    failed_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    refreshing: asyncio.Task[None] | None = None


class SecretsLoader:
    """Cached access to the service's secrets; fetches run in a thread, bounded in time."""

    def __init__(
        self,
        settings: SecretsSettings,
        *,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._fetch = fetch or _provider_fetch(settings)
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    @property
    def provider(self) -> str:
        return self.settings.provider

    def _entry(self, secret: str) -> _Entry:
        if secret not in self._entries:
            self._entries[secret] = _Entry()
        return self._entries[secret]

    def _fresh(self, entry: _Entry, now: float) -> bool:
        return entry.value is not None and now - entry.fetched_at < self.settings.cache_ttl_seconds

    async def get(self, secret: str) -> str:
        """The secret's value: cached within the TTL, else fetched (SecretUnavailable if not)."""
        entry = self._entry(secret)
        now = self._clock()
        if self._fresh(entry, now) and entry.value is not None:
            # Refresh ahead, from half the TTL on: a slow provider answer then costs nothing,
            # and a revocation the provider reports is applied at once (see _refresh).
            age = now - entry.fetched_at
            if age >= self.settings.cache_ttl_seconds / 2 and entry.refreshing is None:
                entry.refreshing = asyncio.create_task(self._refresh(secret, entry))
            return entry.value
        async with entry.lock:
            now = self._clock()
            if self._fresh(entry, now) and entry.value is not None:
                return entry.value
            hold = min(FAILURE_HOLD_SECONDS, self.settings.cache_ttl_seconds)
            if entry.error is not None and now - entry.failed_at < hold:
                raise entry.error
            try:
                value = await asyncio.wait_for(
                    asyncio.to_thread(self._fetch, secret),
                    timeout=self.settings.timeout_seconds + 0.5,
                )
            except TimeoutError:
                error = SecretUnavailable(
                    self.provider,
                    self.settings.location(secret),
                    f"no answer within {self.settings.timeout_seconds + 0.5:g} s",
                )
                self._fail(entry, error)
                raise error from None
            except SecretUnavailable as exc:
                self._fail(entry, exc)
                raise
            entry.value, entry.fetched_at, entry.error = value, self._clock(), None
            return value

    async def warm_up(self, timeout_seconds: float = 5.0) -> dict[str, str | None]:
        """Load every secret once at start-up, with a start-up's patience (a provider client's
        first call is slow: boto3 loads its service models), so that a replica that says it is
        up can already authenticate. Failures are returned, not raised: the replica starts and
        reports them on /health."""
        problems: dict[str, str | None] = {}
        for secret in self.needed:
            entry = self._entry(secret)
            try:
                value = await asyncio.wait_for(
                    asyncio.to_thread(self._fetch, secret), timeout=timeout_seconds
                )
            except TimeoutError:
                problems[secret] = f"no answer within {timeout_seconds:g} s at start-up"
                continue
            except SecretUnavailable as exc:
                problems[secret] = str(exc)
                continue
            entry.value, entry.fetched_at, entry.error = value, self._clock(), None
            problems[secret] = None
        return problems

    def readiness(self, secret: str) -> str | None:
        """None when the secret is held (or its last fetch succeeded and a refresh is under
        way), else why not. Never waits for the provider: a readiness check must answer fast,
        so it starts a background refresh and reports the last known outcome."""
        entry = self._entry(secret)
        now = self._clock()
        stale = not self._fresh(entry, now) or now - entry.fetched_at >= (
            self.settings.cache_ttl_seconds / 2
        )
        if stale and entry.refreshing is None and not entry.lock.locked():
            entry.refreshing = asyncio.create_task(self._refresh(secret, entry))
        if entry.error is not None:
            return str(entry.error)
        if entry.fetched_at == 0.0:
            return f"{self.provider} secret {self.settings.location(secret)}: not loaded yet"
        return None

    async def _refresh(self, secret: str, entry: _Entry) -> None:
        try:
            value = await asyncio.wait_for(
                asyncio.to_thread(self._fetch, secret), timeout=self.settings.cache_ttl_seconds
            )
        except TimeoutError:
            pass  # no answer yet: the cached value simply expires at its TTL
        except SecretUnavailable as exc:
            self._fail(entry, exc)  # deleted, denied or unreachable: stop using it now
        else:
            entry.value, entry.fetched_at, entry.error = value, self._clock(), None
        finally:
            entry.refreshing = None

    def _fail(self, entry: _Entry, error: SecretUnavailable) -> None:
        # An expired value is dropped, never served stale: a revoked secret must stop working.
        entry.value, entry.error, entry.failed_at = None, error, self._clock()

    @property
    def needed(self) -> tuple[str, ...]:
        """The secrets this process uses: the LLM API key only when an LLM API is configured."""
        return SECRET_NAMES if self.settings.llm_api_url else (JWT_SECRET,)

    async def check(self) -> dict[str, str | None]:
        """Load every needed secret; per secret None when it loaded, else why not (/health)."""

        async def one(secret: str) -> str | None:
            try:
                await self.get(secret)
            except SecretUnavailable as exc:
                return str(exc)
            return None

        results = await asyncio.gather(*(one(s) for s in self.needed))
        return dict(zip(self.needed, results, strict=True))


def _provider_fetch(settings: SecretsSettings) -> Fetch:
    if settings.provider == "aws":
        return _AwsFetch(settings)
    if settings.provider == "vault":
        return _VaultFetch(settings)
    return _env_fetch(settings)


def _env_fetch(settings: SecretsSettings) -> Fetch:
    def fetch(secret: str) -> str:
        value = settings.env_values.get(secret)
        if not value:
            raise SecretUnavailable("env", settings.location(secret), "the variable is not set")
        return value

    return fetch


class _AwsFetch:
    """boto3 Secrets Manager; endpoint and credentials from the usual AWS_* variables."""

    def __init__(self, settings: SecretsSettings) -> None:
        self._settings = settings
        self._client: Any = None

    def _get_client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            timeout = self._settings.timeout_seconds
            self._client = boto3.session.Session().client(
                "secretsmanager",
                config=Config(
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                ),
            )
        return self._client

    def __call__(self, secret: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        location = self._settings.location(secret)
        try:
            response = self._get_client().get_secret_value(SecretId=self._settings.path_of(secret))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "error"))
            message = str(exc.response.get("Error", {}).get("Message", "")).lower()
            reason = "marked for deletion" if "delet" in message else code
            raise SecretUnavailable("aws", location, reason) from None
        except BotoCoreError as exc:
            raise SecretUnavailable(
                "aws", location, f"unreachable ({type(exc).__name__})"
            ) from None
        value = response.get("SecretString")
        if not isinstance(value, str) or not value:
            raise SecretUnavailable("aws", location, "no SecretString")
        return value


class _VaultFetch:
    """hvac KV v2 read; the token file is re-read on every fetch (a re-issued token works)."""

    def __init__(self, settings: SecretsSettings) -> None:
        self._settings = settings

    def _token(self, location: str) -> str:
        settings = self._settings
        if settings.vault_token_file:
            with contextlib.suppress(OSError):
                token = Path(settings.vault_token_file).read_text(encoding="utf-8").strip()
                if token:
                    return token
            if not settings.vault_token:
                raise SecretUnavailable("vault", location, "the token file is missing or empty")
        assert settings.vault_token is not None
        return settings.vault_token

    def __call__(self, secret: str) -> str:
        import hvac
        import hvac.exceptions
        import requests

        settings = self._settings
        location = settings.location(secret)
        client = hvac.Client(
            url=settings.vault_addr,
            token=self._token(location),
            timeout=settings.timeout_seconds,
        )
        try:
            response = client.secrets.kv.v2.read_secret_version(
                path=settings.path_of(secret),
                mount_point=settings.vault_mount,
                raise_on_deleted_version=True,
            )
        except hvac.exceptions.Forbidden:
            raise SecretUnavailable(
                "vault", location, "permission denied (token revoked?)"
            ) from None
        except hvac.exceptions.InvalidPath:
            raise SecretUnavailable("vault", location, "not found or deleted") from None
        except requests.exceptions.RequestException as exc:
            raise SecretUnavailable(
                "vault", location, f"unreachable ({type(exc).__name__})"
            ) from None
        except hvac.exceptions.VaultError as exc:
            raise SecretUnavailable("vault", location, type(exc).__name__) from None
        value = ((response.get("data") or {}).get("data") or {}).get(settings.vault_field)
        if not isinstance(value, str) or not value:
            raise SecretUnavailable("vault", location, f"no field '{settings.vault_field}'")
        return value


def loader_for(settings: SecretsSettings, *, jwt_secret: str | None) -> SecretsLoader:
    """The process's loader. The `env` provider also takes the JWT secret the service's own
    settings carry (JWT_SECRET, or one given in code), as the service did before providers."""
    values = dict(settings.env_values)
    if jwt_secret and JWT_SECRET not in values:
        values[JWT_SECRET] = jwt_secret
    return SecretsLoader(dataclasses.replace(settings, env_values=values))
