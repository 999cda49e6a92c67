"""The application pointed at the secrets provider an experiment drills, before its baseline,
as a deployment configured for that provider would be (the pytest drills' `secret_store`
fixture does the same): the plan's `kubectl set env`, journaled first, put back afterwards."""

from __future__ import annotations

import time

import httpx

from drillbook.chaos.session import ChaosSession
from drillbook.core.undo import UndoAction
from drillbook.engine.undo import UndoStack
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.platforms.local import LocalPlatform
from drillbook.scenarios.secrets.runbook import API_KEY_ENV, JWT_ENV, PROVIDER_ENV
from drillbook.scenarios.secrets.stores import open_secret_stores
from drillbook.secrets.store import SecretStore

STORE_KEY = "secret_store"
READY_SECONDS = 60.0
_POLL_SECONDS = 0.1


def store_of(session: ChaosSession) -> SecretStore:
    """The provider the experiment drills (its control's `secrets_provider`)."""
    store = session.memo.get(STORE_KEY)
    if not isinstance(store, SecretStore):
        raise InvalidDrill(
            "this activity needs the secrets provider under drill: give the drillbook control "
            'the argument "secrets_provider" (e.g. "vault" or "aws")'
        )
    return store


def point_app_at(session: ChaosSession, provider: str) -> SecretStore:
    """Point the application at `provider` (unless it is already) and wait until it has loaded
    its secrets from there; the way back is journaled and put back after the drill."""
    target = session.target
    stores = open_secret_stores(target.config, stack=target.stack, platform=target.platform)
    store = stores.store(provider)
    session.memo[STORE_KEY] = store
    app = target.component("app")
    undo = UndoStack(target.journal, target.apply_undo)
    platform = target.platform
    if isinstance(platform, KubernetesPlatform):
        # The Deployment as deployed reads its secrets where it is configured to: an earlier
        # fallback's `kubectl set env` is put back first.
        undo.push(
            UndoAction(
                description=f"put {app.name}'s deployed env back (kubectl set env)",
                platform=platform.name,
                verb="reset_env",
                args={"component": app.name},
            )
        )
        platform.reset_env(app.name)
        platform.wait_until_ready(app.name, timeout=READY_SECONDS)
    elif isinstance(platform, LocalPlatform):
        wanted: dict[str, str | None] = {
            PROVIDER_ENV: store.app_provider,
            JWT_ENV: None,
            API_KEY_ENV: None,
        }
        current = platform.env_overlay(app.name)
        if any(current.get(k, "unset") != v for k, v in wanted.items()):
            undo.push(
                UndoAction(
                    description=f"point {app.name} back at its deployed secrets provider",
                    platform="local",
                    verb="reset_env",
                    # All replicas at once: this runs outside the drill, nobody is measured.
                    args={"component": app.name, "recreate": True},
                )
            )
            platform.set_env(app.name, wanted, recreate=True)
            platform.wait_until_ready(app.name, timeout=READY_SECONDS)

    def put_back() -> None:
        outcomes = undo.unwind()
        if outcomes:
            platform.wait_until_ready(app.name, timeout=READY_SECONDS)
        if target.stack is not None:
            # A drill that rotated the secret the probes sign with had it put back by its undo.
            target.tokens.rotate(target.stack.jwt_secret)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise InvalidDrill(f"could not point the application back: {failed[0].error}")

    session.cleanups.append(put_back)
    _wait_for_provider(target.base_url, store.app_provider)
    return store


def _wait_for_provider(base_url: str, provider: str) -> None:
    """Until /health says the secrets load from `provider` (bounded)."""
    deadline = time.monotonic() + READY_SECONDS
    last: object = None
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{base_url}/health", timeout=2.0).json()
        except (httpx.HTTPError, ValueError) as exc:
            last = type(exc).__name__
        else:
            if isinstance(body, dict) and "secrets" not in body:
                return  # a service that does not report its secrets: nothing to wait for
            last = body.get("secrets") if isinstance(body, dict) else body
        if (
            isinstance(last, dict)
            and last.get("provider") == provider
            and all(last.get(name) == "ok" for name in ("jwt-secret", "llm-api-key"))
        ):
            return
        time.sleep(_POLL_SECONDS)
    raise InvalidDrill(
        f"the application does not load its secrets from '{provider}' after "
        f"{READY_SECONDS:.0f}s (its /health reports {last}); nothing was injected"
    )
