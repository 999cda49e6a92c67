"""Environment parsing for the reference ELEANOR-like service.

Every knob of the service comes from an environment variable (the stack launcher starts each
replica under supervisord with its own environment). Invalid values fail fast with a message
naming the variable, the value found and what was expected; nothing here logs secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from drillbook.core.contracts import JWT_ENV
from eleanor_reference.cache_client import (
    DEFAULT_SENTINEL_MASTER,
    Address,
    CacheSettingsError,
    sentinel_settings,
)
from eleanor_reference.precedent_settings import (
    PrecedentSettings,
    PrecedentSettingsError,
)
from eleanor_reference.secrets_loader import SecretsSettings, SecretsSettingsError

DEFAULT_DATABASE_URL = "postgresql://eleanor@127.0.0.1:5432/eleanor_v8"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_VERSION = "8.0.0-reference"
DEFAULT_RATE_LIMIT = 100_000
DEFAULT_RATE_WINDOW_SECONDS = 60.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """The service configuration, read once per process by `Settings.from_env`."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    #: Sentinels to ask for the cache's master (`ELEANOR_CACHE__SENTINELS`); empty: `redis_url`.
    cache_sentinels: tuple[Address, ...] = ()
    cache_sentinel_master: str = DEFAULT_SENTINEL_MASTER
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_algorithm: str = "HS256"
    auth_enabled: bool = True
    replica: str = "app-0"
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS
    version: str = DEFAULT_VERSION
    #: Upper bound of each dependency check made by /health (the brief caps it at 0.5 s).
    health_check_timeout_seconds: float = 0.5
    #: Upper bound of opening one database connection for a request.
    db_connect_timeout_seconds: float = 1.0
    #: Upper bound of one whole database operation (connect, lock, read, write, commit).
    db_operation_timeout_seconds: float = 5.0
    #: Upper bound of one best-effort Redis operation outside /health.
    cache_timeout_seconds: float = 0.5
    #: Lifetime of the cached decision `deliberation:{trace_id}`.
    cache_ttl_seconds: int = 300
    #: Where the JWT secret and the LLM API key come from (ELEANOR_SECURITY__*, see
    #: secrets_loader.py); the default `env` provider reads JWT_SECRET as before.
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    #: The precedent store (PRECEDENT_BACKEND, WEAVIATE_URL, ...; see precedent_settings.py).
    precedents: PrecedentSettings = field(default_factory=PrecedentSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from `environ` (default: `os.environ`).

        Raises `SettingsError` when a value is malformed (for instance a non-numeric
        `ELEANOR_RATE_LIMIT`), so that a misconfigured replica stops at start-up instead of
        running with a silently different behaviour.
        """
        env = os.environ if environ is None else environ
        secret = env.get(JWT_ENV) or None
        try:
            sentinels, sentinel_master = sentinel_settings(env)
        except CacheSettingsError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            database_url=env.get("ELEANOR_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=env.get("ELEANOR_CACHE__REDIS_URL") or DEFAULT_REDIS_URL,
            cache_sentinels=sentinels,
            cache_sentinel_master=sentinel_master,
            jwt_secret=secret,
            jwt_algorithm=_algorithm(env.get("JWT_ALGORITHM") or "HS256"),
            auth_enabled=_bool(env, "AUTH_ENABLED", default=True),
            replica=env.get("ELEANOR_REPLICA") or "app-0",
            rate_limit=_int(env, "ELEANOR_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            rate_window_seconds=_positive_float(
                env, "ELEANOR_RATE_WINDOW_SECONDS", DEFAULT_RATE_WINDOW_SECONDS
            ),
            version=env.get("ELEANOR_VERSION") or DEFAULT_VERSION,
            secrets=_secrets(env),
            precedents=_precedents(env),
        )


def _precedents(env: Mapping[str, str]) -> PrecedentSettings:
    try:
        return PrecedentSettings.from_env(env)
    except PrecedentSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _secrets(env: Mapping[str, str]) -> SecretsSettings:
    try:
        return SecretsSettings.from_env(env)
    except SecretsSettingsError as exc:
        raise SettingsError(str(exc)) from None


def _algorithm(value: str) -> str:
    allowed = ("HS256", "HS384", "HS512")
    if value not in allowed:
        raise SettingsError(
            f"JWT_ALGORITHM={value!r} is not supported; expected one of {', '.join(allowed)} "
            "(the reference service only verifies shared-secret tokens)"
        )
    return value


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean; expected true/false (or 1/0, yes/no)")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer; expected e.g. 100000") from None


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; expected e.g. 60") from None
    if not value > 0:
        raise SettingsError(f"{name}={raw!r} must be greater than zero")
    return value
