"""FastAPI app of the reference ELEANOR-like service, the target drills break and measure.

It mirrors the interfaces of ELEANOR V8 that drills care about (health, deliberation with a
hash-chained evidence record in PostgreSQL, audit lookup through a Redis cache, JWT auth,
rate limiting, Prometheus metrics) and stays small. Run one replica with::

    python -m uvicorn eleanor_reference.app:app \
        --host 127.0.0.1 --port PORT --no-access-log

Configuration comes from the environment (see `settings.py`). The process records when it
first served a request other than `/livez` (the recovery ground truth, see `metrics.py`):
the first response of a process shows `first_served_monotonic: null` because the mark is
taken as that response starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eleanor_reference.auth import AuthError, Principal, bearer_token, verify_token
from eleanor_reference.cache_client import Address, connect_cache
from eleanor_reference.evidence import (
    DatabaseUnavailable,
    EvidenceRecord,
    EvidenceStore,
    InvalidPayload,
    canonical_json,
)
from eleanor_reference.metrics import GroundTruth, ServiceMetrics
from eleanor_reference.precedents import PrecedentService, precedent_router
from eleanor_reference.ratelimit import FixedWindowRateLimiter
from eleanor_reference.secrets_loader import JWT_SECRET as JWT_SECRET_NAME
from eleanor_reference.secrets_loader import (
    SecretsLoader,
    SecretUnavailable,
    loader_for,
)
from eleanor_reference.secrets_routes import router as secrets_router
from eleanor_reference.settings import Settings
from eleanor_reference.warm_up import WarmUp

LOGGER_NAME = "eleanor_reference"
TRACE_HEADER = "X-Trace-Id"
SOURCE_HEADER = "X-Eleanor-Source"
DATABASE = "database"
CACHE = "cache"
SECRETS = "secrets"
PRECEDENT_STORE = "precedent_store"
_FIRST_CONTACT_SECONDS = 2.0
"""Bound of each dependency's first contact at start-up: longer than a request's, since it
pays for what a process does once (imports, TLS contexts, connections; see warm_up.py)."""

Decision = Literal["allow", "deny", "escalate"]
_DECISIONS: tuple[Decision, ...] = ("allow", "deny", "escalate")
_DENY_MARKERS = ("rm -rf /", "drop table", "exfiltrate")


class DeliberateRequest(BaseModel):
    """Body of `POST /deliberate`."""

    input: str = Field(max_length=100_000)
    context: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = Field(default=None, min_length=1, max_length=200)


class ApiError(Exception):
    """An error answered as JSON `{"error": ..., "trace_id": ..., **extra}`."""

    def __init__(
        self,
        status_code: int,
        error: str,
        trace_id: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.trace_id = trace_id
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> JSONResponse:
        """Render the error."""
        body = {"error": self.error, "trace_id": self.trace_id, **self.extra}
        headers = {TRACE_HEADER: self.trace_id, **self.headers}
        return JSONResponse(body, status_code=self.status_code, headers=headers)


class CacheUnavailable(Exception):
    """Redis could not be reached or timed out."""


class DecisionCache:
    """Best-effort Redis cache of deliberations (`deliberation:{trace_id}`), bounded calls.

    The client is created lazily (inside the event loop) and its connections are dropped
    after any failure, so the next call reconnects to a restarted Redis.
    """

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
        self._sentinels = sentinels
        self._sentinel_master = sentinel_master
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._client: Redis | None = None

    @staticmethod
    def key(trace_id: str) -> str:
        """The Redis key of one deliberation."""
        return f"deliberation:{trace_id}"

    async def ping(self, timeout: float) -> None:
        """Send a real PING (raises `CacheUnavailable`)."""
        await self._call(lambda client: client.ping(), timeout)

    async def put(self, trace_id: str, document: dict[str, Any]) -> None:
        """Store `document` under the trace's key with the configured TTL."""
        text = canonical_json(jsonable_encoder(document))
        await self._call(lambda client: client.set(self.key(trace_id), text, ex=self._ttl))

    async def fetch(self, trace_id: str) -> dict[str, Any] | None:
        """Return the cached document of `trace_id`, or None on a miss."""
        raw = await self._call(lambda client: client.get(self.key(trace_id)))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), timeout=1.0)
            self._client = None

    def _get_client(self) -> Redis:
        if self._client is None:
            self._client = connect_cache(
                self._url,
                sentinels=self._sentinels,
                master_name=self._sentinel_master,
                timeout_seconds=self._timeout,
            )
        return self._client

    async def _call(
        self, operation: Callable[[Redis], Awaitable[Any]], timeout: float | None = None
    ) -> Any:
        client = self._get_client()
        limit = self._timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(operation(client), timeout=limit)
        except (RedisError, OSError, TimeoutError) as exc:
            await self._drop_connections(client)
            reason = f"no answer within {limit:g} s" if isinstance(exc, TimeoutError) else str(exc)
            raise CacheUnavailable(reason or type(exc).__name__) from None

    @staticmethod
    async def _drop_connections(client: Redis) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.connection_pool.disconnect(), timeout=0.2)


@dataclass
class ServiceState:
    """Everything one process shares between requests."""

    settings: Settings
    store: EvidenceStore
    cache: DecisionCache
    metrics: ServiceMetrics
    ground_truth: GroundTruth
    limiter: FixedWindowRateLimiter
    logger: logging.Logger
    dependency_up: dict[str, bool] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def dependency_result(self, name: str, ok: bool, reason: str = "") -> None:
        """Count a failure and log each up/down transition of a dependency once."""
        if not ok:
            self.metrics.count_dependency_failure(name)
        previous = self.dependency_up.get(name)
        self.dependency_up[name] = ok
        if previous is None and ok:
            return
        if previous != ok:
            if ok:
                self.logger.info("dependency %s is reachable again", name)
            else:
                self.logger.warning("dependency %s is failing: %s", name, reason)

    async def prepare_schema(self) -> str | None:
        """Create the evidence table: the replica's first database connection, with a start-up's
        patience. None when done, else why not (the warm-up retries it, see warm_up.py; a
        write also creates the table when it is missing)."""
        try:
            await self.store.ensure_schema(timeout=_FIRST_CONTACT_SECONDS)
        except (DatabaseUnavailable, InvalidPayload) as exc:
            self.dependency_result(DATABASE, False, str(exc))
            return str(exc)
        self.dependency_result(DATABASE, True)
        return None


class ServingMiddleware:
    """Rate limiting, request metrics and the first-served ground truth, for every request.

    It sits outside FastAPI's exception handling so that it also sees 401/429/503 answers;
    the first-served mark is taken when the response starts (`http.response.start`).
    """

    def __init__(self, app: ASGIApp, *, service: ServiceState, router: Router) -> None:
        self.app = app
        self.service = service
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = self._route_template(scope)
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                self.service.metrics.count_request(route, int(message["status"]))
                self.service.ground_truth.mark_served(path)
            await send(message)

        client = scope.get("client")
        client_ip = str(client[0]) if client else "unknown"
        decision = self.service.limiter.hit(client_ip)
        if not decision.allowed:
            error = ApiError(
                429,
                "rate limit exceeded",
                _trace_id_from_scope(scope),
                headers={"Retry-After": str(decision.retry_after_seconds)},
                retry_after_seconds=decision.retry_after_seconds,
            )
            await error.response()(scope, receive, send_wrapper)
            return
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if not started:
                self.service.metrics.count_request(route, 500)
            raise

    def _route_template(self, scope: Scope) -> str:
        partial = None
        for route in self.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", scope["path"]))
            if match is Match.PARTIAL and partial is None:
                partial = str(getattr(route, "path", scope["path"]))
        return partial if partial is not None else "unmatched"


def _trace_id_from_scope(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.decode("latin-1").lower() == TRACE_HEADER.lower():
            text = str(value.decode("latin-1")).strip()
            if text:
                return text[:200]
    return uuid.uuid4().hex


def _request_trace_id(request: Request) -> str:
    header = request.headers.get(TRACE_HEADER, "").strip()
    return header[:200] if header else uuid.uuid4().hex


async def require_auth(request: Request) -> Principal | None:
    """FastAPI dependency: verify the bearer token when auth is enabled (401 otherwise).

    The secret comes from the configured secrets provider (secrets_loader.py); when it cannot
    be loaded the answer is 503 naming the provider and path: nobody gets in without it.
    """
    service: ServiceState = request.app.state.service
    settings = service.settings
    if not settings.auth_enabled:
        return None
    trace_id = _request_trace_id(request)
    loader: SecretsLoader = request.app.state.secrets
    try:
        secret = await loader.get(JWT_SECRET_NAME)
    except SecretUnavailable as exc:
        raise ApiError(503, f"JWT secret unavailable: {exc}", trace_id) from None
    try:
        token = bearer_token(request.headers.get("Authorization"))
        return verify_token(token, secret, algorithm=settings.jwt_algorithm)
    except AuthError as exc:
        raise ApiError(401, str(exc), trace_id, headers={"WWW-Authenticate": "Bearer"}) from None


Authenticated = Annotated[Principal | None, Depends(require_auth)]


def _decide(text: str, context: dict[str, Any]) -> Decision:
    """A deliberately tiny, deterministic policy (this is a drill target, not a product)."""
    forced = context.get("force_decision")
    for decision in _DECISIONS:
        if forced == decision:
            return decision
    lowered = text.lower()
    if any(marker in lowered for marker in _DENY_MARKERS):
        return "deny"
    return "allow"


def _build_logger(replica: str) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s eleanor replica={replica} %(message)s")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build one service instance (reads the environment when `settings` is None)."""
    settings = settings if settings is not None else Settings.from_env()
    logger = _build_logger(settings.replica)
    ground_truth = GroundTruth(settings.replica)
    service = ServiceState(
        settings=settings,
        store=EvidenceStore(
            settings.database_url,
            application_name=f"eleanor-{settings.replica}"[:63],
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            operation_timeout_seconds=settings.db_operation_timeout_seconds,
        ),
        cache=DecisionCache(
            settings.redis_url,
            timeout_seconds=settings.cache_timeout_seconds,
            ttl_seconds=settings.cache_ttl_seconds,
            sentinels=settings.cache_sentinels,
            sentinel_master=settings.cache_sentinel_master,
        ),
        metrics=ServiceMetrics(ground_truth),
        ground_truth=ground_truth,
        limiter=FixedWindowRateLimiter(settings.rate_limit, settings.rate_window_seconds),
        logger=logger,
    )

    precedents = PrecedentService.from_settings(settings, logger)
    warm_up = WarmUp()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "starting version=%s pid=%d auth_enabled=%s rate_limit=%d/%gs",
            settings.version,
            ground_truth.pid,
            settings.auth_enabled,
            settings.rate_limit,
            settings.rate_window_seconds,
        )
        # Before serving: a replica that answers already holds its secrets (or says why not).
        problems = await secrets.warm_up()
        logger.info("secrets provider=%s", secrets.provider)
        for problem in problems.values():
            if problem is not None:
                logger.error("secret not loaded at start-up (protected calls get 503): %s", problem)
        # In the background, so the process serves /livez and /health at once even if Postgres
        # is down; /readyz says ready only once every dependency has been contacted and the
        # database has answered (warm_up.py: a first contact stalls the event loop).
        task = asyncio.create_task(
            warm_up.run(
                reach_database=service.prepare_schema,
                first_contacts=(
                    lambda: service.cache.ping(_FIRST_CONTACT_SECONDS),
                    lambda: precedents.health(_FIRST_CONTACT_SECONDS),
                ),
                logger=logger,
            )
        )
        service.background.add(task)
        task.add_done_callback(service.background.discard)
        try:
            yield
        finally:
            for pending in list(service.background):
                pending.cancel()
            await service.cache.close()
            await precedents.close()

    app = FastAPI(
        title="ELEANOR reference service",
        version=settings.version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    secrets = loader_for(settings.secrets, jwt_secret=settings.jwt_secret)
    app.state.secrets = secrets
    app.state.warm_up = warm_up
    app.include_router(secrets_router)
    app.state.precedents = precedents
    app.include_router(precedent_router(require_auth))

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return ApiError(
            422,
            "invalid request",
            _request_trace_id(request),
            detail=jsonable_encoder(exc.errors()),
        ).response()

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        """Liveness only: no dependency checks, not a 'served request'."""
        return {"status": "alive"}

    @app.get("/health")
    async def health() -> JSONResponse:
        """Real `SELECT 1` and Redis PING, each bounded; 503 when the database is down."""
        timeout = min(settings.health_check_timeout_seconds, 0.5)

        async def check_database() -> str | None:
            try:
                await service.store.ping(timeout)
            except DatabaseUnavailable as exc:
                return str(exc)
            return None

        async def check_cache() -> str | None:
            try:
                await service.cache.ping(timeout)
            except CacheUnavailable as exc:
                return str(exc)
            return None

        # Weaviate is checked beside the others, through the same gRPC path searches use.
        precedent_task = asyncio.ensure_future(precedents.health(timeout))
        db_error, cache_error, secret_problems = await asyncio.gather(
            check_database(), check_cache(), secrets.check()
        )
        # Without its JWT secret the service can authenticate nobody: unhealthy, not degraded.
        jwt_error = secret_problems[JWT_SECRET_NAME] if settings.auth_enabled else None
        secrets_error = "; ".join(p for p in secret_problems.values() if p is not None) or None
        service.dependency_result(DATABASE, db_error is None, db_error or "")
        service.dependency_result(CACHE, cache_error is None, cache_error or "")
        service.dependency_result(SECRETS, secrets_error is None, secrets_error or "")
        precedent_check, precedent_error = await precedent_task
        service.dependency_result(PRECEDENT_STORE, precedent_error is None, precedent_error or "")
        errors = {
            name: reason
            for name, reason in (
                (DATABASE, db_error),
                (CACHE, cache_error),
                (SECRETS, secrets_error),
                (PRECEDENT_STORE, precedent_error),
            )
            if reason is not None
        }
        service.metrics.set_degraded_components(len(errors))
        if db_error is not None or jwt_error is not None:
            status, code = "unhealthy", 503
        elif cache_error is not None or secrets_error is not None or precedent_error is not None:
            status, code = "degraded", 200
        else:
            status, code = "healthy", 200
        first = ground_truth.first_served
        body: dict[str, Any] = {
            "status": status,
            "version": settings.version,
            "replica": settings.replica,
            "checks": {
                "api": "ok",
                DATABASE: "error" if db_error is not None else "ok",
                CACHE: "error" if cache_error is not None else "ok",
                SECRETS: "error" if secrets_error is not None else "ok",
                PRECEDENT_STORE: precedent_check,
            },
            "secrets": {"provider": secrets.provider}
            | {name: "ok" if why is None else "error" for name, why in secret_problems.items()},
            "timestamp": time.time(),
            "process": {
                "pid": ground_truth.pid,
                "started_monotonic": ground_truth.started_monotonic,
                "first_served_monotonic": first.monotonic if first is not None else None,
            },
        }
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=code)

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text exposition."""
        return PlainTextResponse(
            service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/deliberate")
    async def deliberate(
        body: DeliberateRequest, request: Request, principal: Authenticated
    ) -> JSONResponse:
        """Decide, append an evidence record to the chain, cache the decision best-effort."""
        service.metrics.count_deliberate()
        trace_id = body.trace_id or request.headers.get(TRACE_HEADER) or uuid.uuid4().hex
        decision = _decide(body.input, body.context)
        payload: dict[str, Any] = {
            "trace_id": trace_id,
            "input": body.input,
            "context": body.context,
            "final_decision": decision,
            "replica": settings.replica,
            "version": settings.version,
            "subject": principal.subject if principal is not None else None,
            "received_at": datetime.now(UTC).isoformat(),
        }
        try:
            result = await service.store.append(trace_id, payload)
        except InvalidPayload as exc:
            raise ApiError(422, str(exc), trace_id) from None
        except DatabaseUnavailable as exc:
            service.dependency_result(DATABASE, False, str(exc))
            service.metrics.set_degraded_components(1)
            raise ApiError(
                503,
                "database unavailable",
                trace_id,
                detail=str(exc),
                degraded_components=[DATABASE],
                is_degraded=True,
            ) from None
        service.dependency_result(DATABASE, True)
        record = result.record
        if not result.created:
            same = record.payload.get("input") == body.input and canonical_json(
                record.payload.get("context")
            ) == canonical_json(body.context)
            if not same:
                raise ApiError(
                    409,
                    "trace_id already recorded with a different input",
                    trace_id,
                    record_hash=record.record_hash,
                    sequence=record.sequence,
                )
            decision = _stored_decision(record, decision)
        else:
            service.metrics.count_evidence_written()
        degraded: list[str] = []
        answer: dict[str, Any] = {
            "trace_id": trace_id,
            "final_decision": decision,
            "degraded_components": degraded,
            "is_degraded": False,
            "record_hash": record.record_hash,
            "prev_hash": record.prev_hash,
            "sequence": record.sequence,
            "replica": settings.replica,
            "replayed": not result.created,
        }
        try:
            await service.cache.put(trace_id, {"decision": {**answer}, "record": record.to_json()})
        except CacheUnavailable as exc:
            service.dependency_result(CACHE, False, str(exc))
            degraded.append(CACHE)
        else:
            service.dependency_result(CACHE, True)
        answer["is_degraded"] = bool(degraded)
        service.metrics.set_degraded_components(len(degraded))
        return JSONResponse(answer, headers={TRACE_HEADER: trace_id})

    @app.get("/audit/trace/{trace_id}")
    async def audit_trace(
        trace_id: str,
        principal: Authenticated,
        source: Annotated[Literal["any", "database"], Query()] = "any",
    ) -> JSONResponse:
        """The stored evidence record; from the Redis cache when possible.

        `?source=database` bypasses the cache (what a drill checking for data loss wants).
        """
        del principal  # authentication is the whole point of the dependency
        if source == "any":
            try:
                cached = await service.cache.fetch(trace_id)
            except CacheUnavailable as exc:
                service.dependency_result(CACHE, False, str(exc))
                cached = None
            else:
                service.dependency_result(CACHE, True)
            if cached is not None and isinstance(cached.get("record"), dict):
                return JSONResponse(
                    cached["record"], headers={SOURCE_HEADER: CACHE, TRACE_HEADER: trace_id}
                )
        try:
            record = await service.store.get(trace_id)
        except DatabaseUnavailable as exc:
            service.dependency_result(DATABASE, False, str(exc))
            raise ApiError(503, "database unavailable", trace_id, detail=str(exc)) from None
        service.dependency_result(DATABASE, True)
        if record is None:
            raise ApiError(404, "not found", trace_id)
        document = record.to_json()
        with contextlib.suppress(CacheUnavailable):
            await service.cache.put(trace_id, {"record": document})
        return JSONResponse(document, headers={SOURCE_HEADER: DATABASE, TRACE_HEADER: trace_id})

    app.add_middleware(ServingMiddleware, service=service, router=app.router)
    return app


def _stored_decision(record: EvidenceRecord, fallback: Decision) -> Decision:
    stored = record.payload.get("final_decision")
    for decision in _DECISIONS:
        if stored == decision:
            return decision
    return fallback


app = create_app()
