"""Routes around the service's secrets: readiness, and what they are good for (outbound calls).

- `GET /outbound/check`: the plan's "Test LLM API calls". Loads the LLM API key from the
  configured provider and calls the LLM API with it (`ELEANOR_LLM_API_URL`); 200 when the call
  succeeds, 503 with the reason (never the key) when the key cannot be loaded or is refused.
- `GET /readyz`: readiness, what the proxy routes by: 200 once the replica is warm (its
  database reached) and holds its JWT secret.
- `GET /llm-stub/v1/models`: a stand-in for the LLM provider's API on loopback (the drill may not
  leave the machine). It accepts exactly the key whose SHA-256 is `ELEANOR_LLM_STUB_KEY_SHA256`.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eleanor_reference.secrets_loader import (
    JWT_SECRET,
    LLM_API_KEY,
    SecretsLoader,
    SecretUnavailable,
)
from eleanor_reference.warm_up import WarmUp

LLM_STUB_PATH = "/llm-stub/v1/models"
READY_PATH = "/readyz"
_OUTBOUND_TIMEOUT_SECONDS = 2.0

router = APIRouter()


def _loader(request: Request) -> SecretsLoader:
    loader: SecretsLoader = request.app.state.secrets
    return loader


def stub_accepts(authorization: str | None, expected_sha256: str | None) -> bool:
    """Whether `Authorization: Bearer <key>` carries the key the stub was configured with."""
    if not authorization or not expected_sha256:
        return False
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return False
    digest = hashlib.sha256(key.strip().encode("utf-8")).hexdigest()
    return hmac.compare_digest(digest, expected_sha256.strip().lower())


@router.get(LLM_STUB_PATH)
async def llm_stub(request: Request) -> JSONResponse:
    """The stand-in LLM API: 200 with a model list for the right key, 401 otherwise."""
    expected = _loader(request).settings.llm_stub_key_sha256
    if not stub_accepts(request.headers.get("Authorization"), expected):
        return JSONResponse({"error": "invalid API key"}, status_code=401)
    return JSONResponse({"object": "list", "data": [{"id": "reference-llm", "object": "model"}]})


@router.get("/outbound/check")
async def outbound_check(request: Request) -> JSONResponse:
    """Load the LLM API key and make one real outbound call with it."""
    loader = _loader(request)
    url = loader.settings.llm_api_url
    body: dict[str, object] = {"provider": loader.provider, "api_key": "error", "call": "error"}
    if not url:
        body["error"] = "ELEANOR_LLM_API_URL is not configured"
        return JSONResponse(body, status_code=503)
    try:
        key = await loader.get(LLM_API_KEY)
    except SecretUnavailable as exc:
        body["error"] = str(exc)
        return JSONResponse(body, status_code=503)
    body["api_key"] = "ok"
    try:
        async with httpx.AsyncClient(timeout=_OUTBOUND_TIMEOUT_SECONDS) as client:
            response = await client.get(
                url.rstrip("/") + "/v1/models", headers={"Authorization": f"Bearer {key}"}
            )
    except httpx.HTTPError as exc:
        body["error"] = f"LLM API unreachable ({type(exc).__name__})"
        return JSONResponse(body, status_code=503)
    body["status_code"] = response.status_code
    if response.status_code != 200:
        body["error"] = f"LLM API answered HTTP {response.status_code}"
        return JSONResponse(body, status_code=503)
    body["call"] = "ok"
    return JSONResponse(body)


@router.get(READY_PATH)
async def readyz(request: Request) -> JSONResponse:
    """Readiness (what the proxy routes by): the process is warm (it has contacted each
    dependency once and reached its database, see warm_up.py) and holds its JWT secret, so it
    can tell callers apart. A replica that cannot authenticate anybody, or has not reached its
    database yet, takes no traffic, as a pod whose readiness probe fails. After start-up no
    other dependency counts: a database outage must reach the users' requests (and the drills'
    probes) as the 503 it is, not as "no server"."""
    warm_up: WarmUp = request.app.state.warm_up
    problem = warm_up.problem()
    if problem is not None:
        return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
    service = request.app.state.service
    if not service.settings.auth_enabled:
        return JSONResponse({"status": "ready"})
    problem = _loader(request).readiness(JWT_SECRET)
    if problem is not None:
        return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})
