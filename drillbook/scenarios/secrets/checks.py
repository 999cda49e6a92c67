"""Scenario 5's verification, as checks: secret retrieval, authentication (and that a revoked
secret lets no one in), outbound (LLM API) calls. Application health is the plan's general
checklist (drillbook.scenarios.common).

Each factory returns a `Check` (drill -> CheckResult). Tokens are minted here from secrets the
drill holds; every secret and token is registered with the redactor before it is used, and no
detail ever quotes one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from drillbook.config.model import HttpProbe
from drillbook.core.contracts import issue_token
from drillbook.core.redaction import register_secret
from drillbook.core.steps import Check, CheckResult, RecoveryStep, checklist_item
from drillbook.errors import SecretProviderError, VerificationFailed
from drillbook.secrets.store import SecretStore

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

_TIMEOUT_SECONDS = 3.0
# ELEANOR's protected endpoint, for a configuration that declares none with `auth = true`.
_PROTECTED = HttpProbe(
    name="deliberate",
    path="/deliberate",
    method="POST",
    json_body={"input": "secrets drill: authentication check", "context": {}},
    auth=True,
)
_REFUSED = (401, 403)


def _url(drill: Drill, path: str) -> str:
    base = drill.config.target.base_url
    assert base is not None
    return base.rstrip("/") + path


def protected_endpoint(drill: Drill) -> HttpProbe:
    """The endpoint tokens are tried on: the first critical endpoint with `auth = true` (the
    service's own), else ELEANOR's POST /deliberate."""
    return next((p for p in drill.config.target.critical_endpoints if p.auth), _PROTECTED)


def _call_with(drill: Drill, secret: str | None) -> int:
    """Status code of the protected endpoint called with a token signed by `secret` (None: no
    token at all)."""
    headers: dict[str, str] = {}
    if secret is not None:
        register_secret(secret)
        auth = drill.config.target.auth
        token = issue_token(secret, subject="drillbook-secrets-check", algorithm=auth.algorithm)
        register_secret(token)
        headers["Authorization"] = f"Bearer {token}"
    endpoint = protected_endpoint(drill)
    try:
        response = httpx.request(
            endpoint.method,
            _url(drill, endpoint.path),
            json=endpoint.json_body,
            headers=headers,
            timeout=_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError:
        return 0
    return response.status_code


def secret_retrieval(store: SecretStore, *, app_provider: str) -> Check:
    """The provider serves the secrets again, and the application loaded them from
    `app_provider` ("env" after the plan's Option A)."""

    @checklist_item("secret retrieval verified")
    def check(drill: Drill) -> CheckResult:
        provider_ok: dict[str, str] = {}
        for path in store.paths.all():
            try:
                store.provider.get(path)
                provider_ok[store.location(path)] = "readable"
            except SecretProviderError as exc:
                provider_ok[store.location(path)] = type(exc).__name__
        try:
            health = httpx.get(_url(drill, "/health"), timeout=_TIMEOUT_SECONDS).json()
        except (httpx.HTTPError, ValueError) as exc:
            health = {"error": type(exc).__name__}
        reported: dict[str, Any] = health.get("secrets", {}) if isinstance(health, dict) else {}
        app_ok = reported.get("provider") == app_provider and all(
            reported.get(name) == "ok" for name in ("jwt-secret", "llm-api-key")
        )
        # After Option A the application no longer reads the provider: only its answer counts.
        provider_needed = app_provider != "env"
        passed = app_ok and (not provider_needed or set(provider_ok.values()) == {"readable"})
        return CheckResult(
            "secret retrieval verified",
            passed,
            f"application loads its secrets from {reported.get('provider')!r} (expected "
            f"{app_provider!r}): {reported}; {store.name}: {provider_ok}",
            {"application": reported, store.name: provider_ok},
        )

    return check


def secret_served(store: SecretStore, *, revoked: str | None = None) -> Check:
    """The provider serves the JWT secret again (read with drillbook's own access), and not a
    `revoked` value: secret retrieval as far as the provider goes, which needs no running
    service (on simulated pods it is what can be checked)."""

    @checklist_item("secret served by the provider")
    def check(drill: Drill) -> CheckResult:
        path = store.paths.jwt_secret
        try:
            value: str | None = store.provider.get(path)
            state = "readable"
        except SecretProviderError as exc:
            value, state = None, type(exc).__name__
        if value is not None and revoked is not None and value == revoked:
            state = "still the revoked value"
        return CheckResult(
            "secret served by the provider",
            state == "readable",
            f"{store.location(path)}: {state}"
            + (" (and not the revoked value)" if revoked and state == "readable" else ""),
            {store.location(path): state},
        )

    return check


def authentication_works(valid: Callable[[], str], rejected: Sequence[str] = ()) -> Check:
    """A token signed with the current secret gets in (200); none signed with a `rejected`
    (revoked) secret does, nor a request without a token (401)."""

    @checklist_item("authentication tested")
    def check(drill: Drill) -> CheckResult:
        statuses = {"valid token": _call_with(drill, valid())}
        for index, secret in enumerate(rejected):
            statuses[f"token signed with revoked secret #{index + 1}"] = _call_with(drill, secret)
        statuses["no token"] = _call_with(drill, None)
        endpoint = protected_endpoint(drill)
        accepted = list(endpoint.expect_status)
        passed = statuses["valid token"] in accepted and all(
            code in _REFUSED for name, code in statuses.items() if name != "valid token"
        )
        return CheckResult(
            "authentication tested",
            passed,
            f"{endpoint.method} {endpoint.path}: "
            + "; ".join(f"{name}: HTTP {code}" for name, code in statuses.items())
            + f" (expected {accepted} for the valid token, 401 or 403 for every other)",
            statuses,
        )

    return check


def revoked_secret_rejected(revoked: str, *, when: str) -> Check:
    """A token signed with the revoked secret gets nobody in (anything but 2xx), `when` being
    the moment of the drill it is checked at (e.g. "during recovery")."""

    @checklist_item(f"revoked secret rejected {when}")
    def check(drill: Drill) -> CheckResult:
        code = _call_with(drill, revoked)
        return CheckResult(
            f"revoked secret rejected {when}",
            not 200 <= code < 300,
            f"token signed with the revoked secret: HTTP {code} (expected a refusal)",
            {"status": code},
        )

    return check


@checklist_item("LLM API calls tested")
def outbound_calls_work(drill: Drill) -> CheckResult:
    """The application loads its LLM API key and an outbound call with it succeeds."""
    try:
        response = httpx.get(_url(drill, "/outbound/check"), timeout=_TIMEOUT_SECONDS)
        body: Any = response.json()
        code = response.status_code
    except (httpx.HTTPError, ValueError) as exc:
        body, code = {"error": type(exc).__name__}, 0
    return CheckResult(
        "LLM API calls tested",
        code == 200 and isinstance(body, dict) and body.get("call") == "ok",
        f"GET /outbound/check: HTTP {code} {body}",
        {"status": code, "answer": body},
    )


def check_now(drill: Drill, check: Check) -> CheckResult:
    """Run one check at this moment of the drill (not after recovery), record it with the
    drill's results and the timeline, and fail the drill at once if it does not hold."""
    result = check(drill)
    drill.check_results.append(result)
    drill.note(f"check: {result.name}", passed=result.passed, detail=result.detail)
    if not result.passed:
        raise VerificationFailed(f"{result.name}: {result.detail}")
    return result


def check_step(drill: Drill, check: Check) -> RecoveryStep:
    """A check run as a step of the runbook, at that point of the recovery (via `check_now`)."""
    name = str(getattr(check, "check_name", "check"))

    def run() -> Mapping[str, Any]:
        result = check_now(drill, check)
        return {"passed": result.passed, "detail": result.detail}

    return RecoveryStep(name=f"verify: {name}", command=f"verify: {name}", run=run)
