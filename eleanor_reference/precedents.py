"""Precedents of the reference service: stored in and searched through Weaviate, Redis in front.

ELEANOR V8 keeps precedents in a vector store (`PRECEDENT_BACKEND=weaviate`, `WEAVIATE_URL`,
collection `Precedent` with properties `text` and `metadata`) and caches lookups in Redis under
`precedent:{hash}`. This module does the same with weaviate-client v4, so the vector-store drill
breaks and restores a real Weaviate:

- `POST /precedents` embeds the text and inserts it (the plan's "embedding storage");
- `GET /precedents/search?q=` answers from the cache, else a near-vector search in Weaviate
  ("precedent retrieval"); `source=store` bypasses the cache, as a drill checking a restore must;
- `/health` reports `checks.precedent_store` from a real query through the same gRPC path.

Vectors are computed here (`embed`: hashed bag of words), so no model is downloaded. The service
never creates the collection: the stack does at first start, and a restore recreates it. A service
that recreated a missing collection on its own would hide the data loss the drill looks for, and
would make Weaviate refuse the restore (a restore never overwrites an existing collection).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError

# The collection and the object ids are a contract with drillbook's precedent checks.
from drillbook.core.contracts import COLLECTION as COLLECTION
from drillbook.core.contracts import PRECEDENT_NAMESPACE as PRECEDENT_NAMESPACE
from drillbook.core.contracts import precedent_id as precedent_id
from eleanor_reference.cache_client import Address, connect_cache

if TYPE_CHECKING:
    from weaviate.client import WeaviateAsyncClient

    from eleanor_reference.settings import Settings

DIMENSIONS = 256
"""Length of every precedent vector; the collection is created for vectors of this size."""
NOT_CONFIGURED = "not_configured"

_TOKEN = re.compile(r"[a-z0-9]+")


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """A deterministic unit vector for `text`: hashed bag of words (signed feature hashing).

    Texts that share words get a small cosine distance, texts that share none are orthogonal
    (up to hash collisions), which is all a drill needs to know which precedent a query must find.
    """
    vector = [0.0] * dimensions
    tokens = _TOKEN.findall(text.lower()) or [text]
    for token in tokens:
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        vector[digest % dimensions] += 1.0 if (digest >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # every token cancelled out: fall back to the whole text as one feature
        digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        vector[digest % dimensions] = 1.0
        return vector
    return [v / norm for v in vector]


def import_weaviate() -> Any:
    """`import weaviate`, without the AuthlibDeprecationWarning its import emits.

    authlib installs an "always" filter for its own warning when imported, so the "ignore"
    filter must be added after that, inside a scope that is undone afterwards.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import authlib.deprecate  # noqa: F401  (installs its "always" filter first)

        warnings.simplefilter("ignore", DeprecationWarning)
        import weaviate

    return weaviate


class PrecedentStoreUnavailable(Exception):
    """Weaviate could not be reached, timed out, or lacks the collection."""


class PrecedentNotConfigured(Exception):
    """PRECEDENT_BACKEND is not `weaviate`: there is no vector store to use."""


@dataclass(frozen=True)
class WeaviateAddress:
    """Where Weaviate answers: REST at `url`, gRPC on `grpc_port` of the same host."""

    url: str
    grpc_port: int

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def http_port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def secure(self) -> bool:
        return urlsplit(self.url).scheme == "https"


class WeaviatePrecedents:
    """The `Precedent` collection through weaviate-client v4 (async), every call bounded.

    One client per process, created inside the event loop and kept: opening one costs 40-100 ms
    of CPU in the loop (HTTP transports and their TLS contexts), so recreating it on every failed
    call would stall every request of the process while Weaviate is down. A client whose
    `connect()` failed is dropped, and the next attempt waits `RECONNECT_SECONDS`; a connected
    client recovers by itself (httpx reconnects, the gRPC channel's reconnect back-off is capped
    at one second instead of gRPC's two minutes).
    """

    RECONNECT_SECONDS = 0.5

    def __init__(self, address: WeaviateAddress, *, timeout_seconds: float) -> None:
        self._address = address
        self._timeout = timeout_seconds
        self._client: WeaviateAsyncClient | None = None
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0
        self._last_failure = ""

    def _new_client(self) -> WeaviateAsyncClient:
        weaviate = import_weaviate()  # already imported at start-up: no wait here
        from weaviate.classes.init import AdditionalConfig, GrpcConfig, Timeout

        client: WeaviateAsyncClient = weaviate.use_async_with_custom(
            http_host=self._address.host,
            http_port=self._address.http_port,
            http_secure=self._address.secure,
            grpc_host=self._address.host,
            grpc_port=self._address.grpc_port,
            grpc_secure=self._address.secure,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=self._timeout, query=self._timeout, insert=self._timeout),
                grpc_config=GrpcConfig(
                    channel_options=[
                        ("grpc.initial_reconnect_backoff_ms", 100),
                        ("grpc.min_reconnect_backoff_ms", 100),
                        ("grpc.max_reconnect_backoff_ms", 1000),
                    ]
                ),
            ),
            # The start-up checks ask for /v1/meta and a gRPC health check; each call below is a
            # real request anyway, and fails just as clearly.
            skip_init_checks=True,
        )
        return client

    async def _get_client(self) -> WeaviateAsyncClient:
        async with self._lock:
            if self._client is not None:
                return self._client
            loop = asyncio.get_running_loop()
            if loop.time() < self._next_attempt:
                raise PrecedentStoreUnavailable(f"not connected: {self._last_failure}")
            self._next_attempt = loop.time() + self.RECONNECT_SECONDS
            client = self._new_client()
            try:
                await client.connect()
            except Exception as exc:
                self._last_failure = _describe(exc)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), timeout=1.0)
                raise PrecedentStoreUnavailable(self._last_failure) from None
            self._client = client
            return client

    async def _call(
        self, operation: Callable[[WeaviateAsyncClient], Awaitable[Any]], timeout: float | None
    ) -> Any:
        limit = self._timeout if timeout is None else timeout
        try:
            client = await asyncio.wait_for(self._get_client(), timeout=limit)
            return await asyncio.wait_for(operation(client), timeout=limit)
        except PrecedentStoreUnavailable:
            raise
        except TimeoutError:
            raise PrecedentStoreUnavailable(f"no answer from Weaviate within {limit:g} s") from None
        except Exception as exc:  # weaviate-client raises many types; all mean "unavailable"
            raise PrecedentStoreUnavailable(_describe(exc)) from None

    async def check(self, timeout: float) -> None:
        """A real query through the search path (gRPC): fails when the collection is gone."""

        async def query(client: WeaviateAsyncClient) -> None:
            await client.collections.use(COLLECTION).query.fetch_objects(limit=1)

        await self._call(query, timeout)

    async def insert(self, object_id: str, text: str, metadata: dict[str, Any]) -> bool:
        """Store one precedent; False when an object with this id already exists."""

        async def insert(client: WeaviateAsyncClient) -> bool:
            collection = client.collections.use(COLLECTION)
            if await collection.data.exists(object_id):
                return False
            await collection.data.insert(
                properties={"text": text, "metadata": json.dumps(metadata, sort_keys=True)},
                uuid=object_id,
                vector=embed(text),
            )
            return True

        result: bool = await self._call(insert, None)
        return result

    async def search(self, query_text: str, limit: int) -> list[dict[str, Any]]:
        """The `limit` precedents nearest to the query's embedding, nearest first."""
        from weaviate.classes.query import MetadataQuery

        async def search(client: WeaviateAsyncClient) -> list[dict[str, Any]]:
            response = await client.collections.use(COLLECTION).query.near_vector(
                near_vector=embed(query_text),
                limit=limit,
                return_metadata=MetadataQuery(distance=True),
            )
            return [
                {
                    "id": str(item.uuid),
                    "text": item.properties.get("text"),
                    "metadata": _metadata(item.properties.get("metadata")),
                    "distance": item.metadata.distance,
                }
                for item in response.objects
            ]

        results: list[dict[str, Any]] = await self._call(search, None)
        return results

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), timeout=1.0)


class PrecedentCache:
    """Best-effort Redis cache of searches under `precedent:{hash}`, bounded calls."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float,
        ttl_seconds: int,
        sentinels: tuple[Address, ...] = (),
        sentinel_master: str = "mymaster",
    ) -> None:
        self._url = url
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._sentinels = sentinels
        self._master = sentinel_master
        self._client: Redis | None = None

    @staticmethod
    def key(query_text: str, limit: int) -> str:
        digest = hashlib.sha256(f"{limit}:{query_text}".encode()).hexdigest()[:32]
        return f"precedent:{digest}"

    async def fetch(self, query_text: str, limit: int) -> list[dict[str, Any]] | None:
        raw = await self._call(lambda client: client.get(self.key(query_text, limit)))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, list) else None

    async def put(self, query_text: str, limit: int, results: list[dict[str, Any]]) -> None:
        text = json.dumps(results, sort_keys=True)
        await self._call(lambda client: client.set(self.key(query_text, limit), text, ex=self._ttl))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), timeout=1.0)

    async def _call(self, operation: Callable[[Redis], Awaitable[Any]]) -> Any:
        if self._client is None:
            self._client = connect_cache(
                self._url,
                sentinels=self._sentinels,
                master_name=self._master,
                timeout_seconds=self._timeout,
            )
        client = self._client
        try:
            return await asyncio.wait_for(operation(client), timeout=self._timeout)
        except (RedisError, OSError, TimeoutError):
            # The cache only saves work: a failure means a miss, and a fresh connection next time.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.connection_pool.disconnect(), timeout=0.2)
            return None


class PrecedentService:
    """What the routes and /health use: the store (or none) and the cache in front of it."""

    def __init__(
        self, store: WeaviatePrecedents | None, cache: PrecedentCache, logger: logging.Logger
    ) -> None:
        self.store = store
        self.cache = cache
        self.logger = logger

    @classmethod
    def from_settings(cls, settings: Settings, logger: logging.Logger) -> PrecedentService:
        """Build from the service settings (`settings.precedents` and the cache's address)."""
        own = settings.precedents
        store = None
        if own.backend == "weaviate":
            # Imported before the process serves (about a second), as ELEANOR loads its vector
            # store client at start-up: a replica that says it is live can search at once.
            import_weaviate()
            store = WeaviatePrecedents(
                WeaviateAddress(own.weaviate_url, own.weaviate_grpc_port),
                timeout_seconds=own.timeout_seconds,
            )
        cache = PrecedentCache(
            settings.redis_url,
            timeout_seconds=settings.cache_timeout_seconds,
            ttl_seconds=own.cache_ttl_seconds,
            sentinels=settings.cache_sentinels,
            sentinel_master=settings.cache_sentinel_master,
        )
        return cls(store, cache, logger)

    def require_store(self) -> WeaviatePrecedents:
        if self.store is None:
            raise PrecedentNotConfigured(
                "no precedent store configured (PRECEDENT_BACKEND is not 'weaviate')"
            )
        return self.store

    async def health(self, timeout: float) -> tuple[str, str | None]:
        """(`checks.precedent_store` value, error reason or None)."""
        if self.store is None:
            return NOT_CONFIGURED, None
        try:
            await self.store.check(timeout)
        except PrecedentStoreUnavailable as exc:
            return "error", str(exc)
        return "ok", None

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()
        await self.cache.close()


class PrecedentIn(BaseModel):
    """Body of `POST /precedents`."""

    key: str = Field(min_length=1, max_length=200)
    """The caller's identifier; the object id is derived from it, so a retry is idempotent."""
    text: str = Field(min_length=1, max_length=20_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


def _error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


def precedent_router(auth_dependency: Callable[..., Any]) -> APIRouter:
    """The precedent routes; writes and searches need the same auth as `/deliberate`."""
    router = APIRouter(dependencies=[Depends(auth_dependency)])

    @router.post("/precedents")
    async def store_precedent(body: PrecedentIn, request: Request) -> JSONResponse:
        service: PrecedentService = request.app.state.precedents
        object_id = precedent_id(body.key)
        try:
            created = await service.require_store().insert(object_id, body.text, body.metadata)
        except PrecedentNotConfigured as exc:
            return _error(503, str(exc), degraded_components=["precedent_store"])
        except PrecedentStoreUnavailable as exc:
            return _error(
                503,
                "precedent store unavailable",
                detail=str(exc),
                degraded_components=["precedent_store"],
            )
        return JSONResponse({"id": object_id, "key": body.key, "created": created})

    @router.get("/precedents/search")
    async def search_precedents(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=2_000)],
        limit: Annotated[int, Query(ge=1, le=50)] = 5,
        source: Annotated[Literal["any", "store"], Query()] = "any",
    ) -> JSONResponse:
        """Nearest precedents; `source=store` skips the cache (what a restore check needs)."""
        service: PrecedentService = request.app.state.precedents
        if source == "any":
            cached = await service.cache.fetch(q, limit)
            if cached is not None:
                return JSONResponse({"query": q, "source": "cache", "results": cached})
        try:
            results = await service.require_store().search(q, limit)
        except PrecedentNotConfigured as exc:
            return _error(503, str(exc), degraded_components=["precedent_store"])
        except PrecedentStoreUnavailable as exc:
            return _error(
                503,
                "precedent store unavailable",
                detail=str(exc),
                degraded_components=["precedent_store"],
            )
        await service.cache.put(q, limit, results)
        return JSONResponse({"query": q, "source": "store", "results": results})

    return router


def _metadata(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
