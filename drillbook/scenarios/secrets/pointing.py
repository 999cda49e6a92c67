"""The application pointed at the secrets provider a drill breaks, before its baseline, as a
deployment configured for that provider would be: the plan's `kubectl set env`, journaled
first (a run that dies is put right by the next), put back afterwards. Shared by the pytest
drills' `secret_store` fixture and the Chaos Toolkit extension.

On Docker (a Compose project) the same `kubectl set env` is an env override file and
`docker compose up -d` (DockerPlatform.set_env), and the provider is seeded first.

On Kubernetes the Deployment as deployed reads its secrets where it is configured to (a
Secret, by secretKeyRef): an earlier drill's `kubectl set env` fallback is put back first
(`reset_env`) and the rollout waited for, so every drill starts from the deployed workload. A
provider the cluster runs itself (drillbook.scenarios.secrets.kube_stores, deployed on the env
provider as on Compose) is seeded and pointed at with `kubectl set env`, put back by `reset_env`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from drillbook.core.undo import UndoAction
from drillbook.engine.undo import UndoStack
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.platforms.local import LocalPlatform
from drillbook.scenarios.secrets.runbook import API_KEY_ENV, JWT_ENV, PROVIDER_ENV
from drillbook.secrets.environment import EnvironmentProvider
from drillbook.secrets.store import SecretStore
from drillbook.target import Target

READY_SECONDS = 60.0
_POLL_SECONDS = 0.1


class AppPointer:
    """Points the application at a provider only when it is not pointed there already (a
    restart per provider, not per drill); `restore` puts the deployed pointing back."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._undo = UndoStack(target.journal, target.apply_undo)

    def point(self, store: SecretStore) -> None:
        target = self._target
        app = target.component("app")
        platform = target.platform
        if isinstance(platform, KubernetesPlatform) and store.seed:
            # The cluster's own dev-mode provider (kube_stores): seeded, then pointed at with
            # `kubectl set env`, which rolls the pods (only when the env differs).
            store.seed_state()
            wanted = {PROVIDER_ENV: store.app_provider, JWT_ENV: None, API_KEY_ENV: None}
            # Declared env: a variable read from a Secret (valueFrom) shows as None, so the
            # removed ones are judged by presence, not by value.
            current = platform.env(app.name)
            if current.get(PROVIDER_ENV) != store.app_provider or {JWT_ENV, API_KEY_ENV} & set(
                current
            ):
                self._journal_once(
                    f"put {app.name}'s deployed env back (kubectl set env)",
                    platform.name,
                    {"component": app.name},
                )
                # The provider's name is no secret (registered, "vault" would be redacted).
                platform.set_env(app.name, wanted, public=frozenset({PROVIDER_ENV}))
                platform.wait_until_ready(app.name, timeout=READY_SECONDS)
        elif isinstance(platform, KubernetesPlatform):
            self._journal_once(
                f"put {app.name}'s deployed env back (kubectl set env)",
                platform.name,
                {"component": app.name},
            )
            platform.reset_env(app.name)  # nothing to do unless a fallback left its env set
            platform.wait_until_ready(app.name, timeout=READY_SECONDS)
        elif isinstance(platform, (LocalPlatform, DockerPlatform)):
            if isinstance(platform, DockerPlatform):
                # A Compose project's dev-mode provider holds what drillbook seeded, or nothing
                # after a restart or a fresh `up`: seeded first (only what differs is written).
                store.seed_state()
            wanted = {PROVIDER_ENV: store.app_provider, JWT_ENV: None, API_KEY_ENV: None}
            current = platform.env_overlay(app.name)
            if any(current.get(k, "unset") != v for k, v in wanted.items()):
                self._journal_once(
                    f"point {app.name} back at its deployed secrets provider",
                    platform.name,
                    # All replicas at once: this runs between drills, nobody is measured.
                    {"component": app.name, "recreate": True},
                )
                platform.set_env(app.name, wanted, recreate=True)
                platform.wait_until_ready(app.name, timeout=READY_SECONDS)
        wait_for_provider(target.base_url, store.app_provider)

    def _journal_once(self, description: str, platform: str, args: Mapping[str, object]) -> None:
        if not len(self._undo):
            self._undo.push(
                UndoAction(
                    description=description, platform=platform, verb="reset_env", args=dict(args)
                )
            )

    def restore(self) -> None:
        outcomes = self._undo.unwind()
        if outcomes:
            app = self._target.component("app")
            self._target.platform.wait_until_ready(app.name, timeout=READY_SECONDS)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise InvalidDrill(f"could not point the application back: {failed[0].error}")


def wait_for_provider(base_url: str, provider: str) -> None:
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


def break_glass(store: SecretStore) -> Mapping[str, str]:
    """The operator's copy of the secrets, for the plan's Option A: on the embedded stack the
    values it seeded; elsewhere JWT_SECRET and ELEANOR_LLM_API_KEY in drillbook's environment."""
    if store.seed:
        return {
            "jwt-secret": store.seed[store.paths.jwt_secret],
            "llm-api-key": store.seed[store.paths.api_key],
        }
    environment = EnvironmentProvider()
    return {"jwt-secret": environment.get(JWT_ENV), "llm-api-key": environment.get(API_KEY_ENV)}
