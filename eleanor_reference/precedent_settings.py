"""Environment of the reference service's precedent store (ELEANOR V8's names where it has them).

- `PRECEDENT_BACKEND`: `weaviate`, or unset / `none` for no precedent store (`/health` then says
  `checks.precedent_store: "not_configured"`). ELEANOR's `memory` and `pgvector` are not
  implemented by the reference service and are refused rather than silently ignored.
- `WEAVIATE_URL`: Weaviate's REST address, e.g. `http://127.0.0.1:8080` (required with weaviate).
- `WEAVIATE_GRPC_PORT`: its gRPC port on the same host (weaviate-client v4 searches over gRPC).
- `PRECEDENT_CACHE_TTL_SECONDS`: lifetime of a cached search in Redis (`precedent:{hash}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_GRPC_PORT = 50051
DEFAULT_CACHE_TTL_SECONDS = 60

PrecedentBackend = Literal["none", "weaviate"]


class PrecedentSettingsError(ValueError):
    """A precedent-store environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class PrecedentSettings:
    backend: PrecedentBackend = "none"
    weaviate_url: str = ""
    weaviate_grpc_port: int = DEFAULT_GRPC_PORT
    cache_ttl_seconds: int = DEFAULT_CACHE_TTL_SECONDS
    timeout_seconds: float = 2.0
    """Upper bound of one Weaviate call outside /health (which has its own, shorter bound)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PrecedentSettings:
        raw_backend = (env.get("PRECEDENT_BACKEND") or "none").strip().lower()
        if raw_backend not in ("none", "weaviate"):
            raise PrecedentSettingsError(
                f"PRECEDENT_BACKEND={env.get('PRECEDENT_BACKEND')!r} is not supported by the "
                "reference service; expected 'weaviate' or unset (no precedent store)"
            )
        backend: PrecedentBackend = "weaviate" if raw_backend == "weaviate" else "none"
        url = (env.get("WEAVIATE_URL") or "").strip().rstrip("/")
        if backend == "weaviate":
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PrecedentSettingsError(
                    f"WEAVIATE_URL={env.get('WEAVIATE_URL')!r} is not an http(s) URL; "
                    "PRECEDENT_BACKEND=weaviate needs e.g. WEAVIATE_URL=http://127.0.0.1:8080"
                )
        return cls(
            backend=backend,
            weaviate_url=url,
            weaviate_grpc_port=_port(env, "WEAVIATE_GRPC_PORT", DEFAULT_GRPC_PORT),
            cache_ttl_seconds=_positive_int(
                env, "PRECEDENT_CACHE_TTL_SECONDS", DEFAULT_CACHE_TTL_SECONDS
            ),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise PrecedentSettingsError(
            f"{name}={raw!r} is not an integer; expected e.g. 60"
        ) from None
    if value <= 0:
        raise PrecedentSettingsError(f"{name}={raw!r} must be greater than zero")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _positive_int(env, name, default)
    if value > 65535:
        raise PrecedentSettingsError(f"{name}={value} is not a TCP port (1-65535)")
    return value
