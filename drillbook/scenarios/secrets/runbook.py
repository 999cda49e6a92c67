"""Scenario 5's runbook: check the provider, then Option A (fall back to environment variables)
or Option B (fix the provider: restore the secret, re-issue access, restart the provider), then
restart the service. Each step's `command` is what an operator would type (shown in reports);
no command or detail ever contains a secret's value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drillbook.config.model import Component
from drillbook.core.contracts import API_KEY_ENV as API_KEY_ENV
from drillbook.core.contracts import JWT_ENV as JWT_ENV
from drillbook.core.contracts import JWT_SECRET_NAME, LLM_API_KEY_NAME
from drillbook.core.contracts import PROVIDER_ENV as PROVIDER_ENV
from drillbook.core.platform import Platform
from drillbook.core.redaction import register_secret
from drillbook.core.steps import RecoveryStep
from drillbook.errors import InvalidDrill, SecretProviderError
from drillbook.probes.auth import TokenProvider
from drillbook.scenarios.secrets.stores import restart_provider_process
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.store import SecretStore


def _workload(component: Component) -> str:
    namespace = f" -n {component.namespace}" if component.namespace else ""
    return f"{component.workload or 'deployment/' + component.name}{namespace}"


def check_provider_status(store: SecretStore) -> RecoveryStep:
    """Immediate response: is the provider up, and can the secret be read? (never raises: the
    answer is the diagnosis, recorded in the timeline)."""
    path = store.paths.jwt_secret
    if store.name == "aws":
        command = f"aws secretsmanager describe-secret --secret-id {path}"
    elif store.name == "vault":
        command = f"vault status && vault read {store.location(path)}"
    else:
        command = f"read {store.location(path)}"

    def run() -> Mapping[str, Any]:
        try:
            store.provider.get(path)
        except SecretProviderError as exc:
            return {"secret": type(exc).__name__, "diagnosis": str(exc)}
        return {"secret": "readable", "diagnosis": "the provider serves the secret"}

    return RecoveryStep(name=f"check {store.name} status", command=command, run=run)


def fall_back_to_env(
    platform: Platform,
    app: Component,
    break_glass: Callable[[], Mapping[str, str]],
    *,
    ready_timeout: float,
) -> RecoveryStep:
    """Option A: `kubectl set env` the secrets into the Deployment and point it at them.

    `break_glass` returns the values to set by secret name (`jwt-secret`, `llm-api-key`): the
    plan reads them from the provider, which is what just failed, so in practice they come from
    the operator's sealed copy (or, after a leak, a newly generated secret).
    """

    def run() -> Mapping[str, Any]:
        values = break_glass()
        for value in values.values():
            register_secret(value)
        platform.set_env(
            app.name,
            {
                PROVIDER_ENV: "env",
                JWT_ENV: values[JWT_SECRET_NAME],
                API_KEY_ENV: values[LLM_API_KEY_NAME],
            },
        )
        waited = platform.wait_until_ready(app.name, timeout=ready_timeout)
        return {
            "set": [PROVIDER_ENV, JWT_ENV, API_KEY_ENV],
            "ready_after_seconds": round(waited, 4),
        }

    return RecoveryStep(
        name=f"fall back to environment variables on {app.name}",
        command=(
            f"kubectl set env {_workload(app)} {PROVIDER_ENV}=env "
            f"{JWT_ENV}=$(<break-glass copy>) {API_KEY_ENV}=$(<break-glass copy>)"
        ),
        run=run,
    )


def restore_secret(store: SecretStore, path: str | None = None) -> RecoveryStep:
    """Option B: bring the deleted secret back (within AWS's recovery window; KV v2 undelete)."""
    target = path or store.paths.jwt_secret
    if store.name == "aws":
        command = f"aws secretsmanager restore-secret --secret-id {target}"
    elif store.name == "vault":
        command = f"vault kv undelete -versions=<current> {store.location(target)}"
    else:
        command = f"restore {store.location(target)}"

    def run() -> Mapping[str, Any]:
        store.provider.restore(target)
        store.provider.get(target)  # restored means readable again
        return {"restored": store.location(target)}

    return RecoveryStep(name=f"restore {target} in {store.name}", command=command, run=run)


def rotate_secret(
    store: SecretStore, new_value: Callable[[], str], path: str | None = None
) -> RecoveryStep:
    """After a leak: a new value in the provider. The revoked one must never be served again,
    not even for a moment, so a deleted secret is not restored first (that would bring the
    leaked value back until the new one is written): AWS deletes it for good and creates it
    anew; Vault's KV v2 writes a new version over the deleted one."""
    target = path or store.paths.jwt_secret
    provider = store.provider
    if isinstance(provider, AwsSecretsManagerProvider):
        command = (
            f"aws secretsmanager delete-secret --secret-id {target} "
            "--force-delete-without-recovery && aws secretsmanager create-secret "
            f"--name {target} --secret-string <new secret>"
        )
    elif store.name == "vault":
        command = f"vault kv put {store.location(target)} value=<new secret>"
    else:
        command = f"write a new value to {store.location(target)}"

    def run() -> Mapping[str, Any]:
        value = new_value()
        register_secret(value)
        if isinstance(provider, AwsSecretsManagerProvider):
            provider.replace(target, value)
        else:
            provider.put(target, value)
        return {"rotated": store.location(target)}

    return RecoveryStep(name=f"rotate {target} in {store.name}", command=command, run=run)


def reissue_access(store: SecretStore) -> RecoveryStep:
    """Option B: a new token for the application (`vault token create -policy=eleanor-app`),
    where the application reads it (the Vault Agent sink)."""
    access = store.access
    if access is None:
        raise InvalidDrill(
            f"re-issuing the application's access to '{store.name}' needs its credentials, "
            "which drillbook only knows on the embedded stack"
        )

    def run() -> Mapping[str, Any]:
        access.reissue()
        return {"token": "re-issued", "policy": access.policy}

    return RecoveryStep(
        name=f"re-issue the application's {store.name} token",
        command=f"vault token create -policy={access.policy} (written to the agent's sink file)",
        run=run,
    )


def restart_provider(platform: Platform, store: SecretStore) -> RecoveryStep:
    """Option B: restart the provider and verify it serves the secret again. On the embedded
    stack a restarted dev server is empty and is seeded again, standing in for the durable
    storage (and unseal) of a real Vault or the return of AWS's endpoint."""
    component = store.component
    if component is None:
        raise InvalidDrill(
            f"secrets provider '{store.name}' has no platform component to restart; set "
            f"[secrets.{store.name}] component"
        )

    def run() -> Mapping[str, Any]:
        platform.stop(component)
        waited = restart_provider_process(platform, store)
        details: dict[str, Any] = {"ready_after_seconds": round(waited, 4)}
        if store.seed:
            store.seed_state()
            details["reseeded"] = True
        store.provider.get(store.paths.jwt_secret)  # "verify connectivity"
        return details

    return RecoveryStep(
        name=f"restart {store.name}",
        command=f"restart secrets provider {component} (supervisorctl restart {component}:*), "
        "then verify connectivity",
        run=run,
    )


def reissue_tokens(tokens: TokenProvider, new_secret: Callable[[], str]) -> RecoveryStep:
    """After a rotation, clients need tokens signed with the new secret (the identity provider
    re-issues them; here: drillbook's own probes)."""

    def run() -> Mapping[str, Any]:
        tokens.rotate(new_secret())
        return {"tokens": "re-issued with the new secret"}

    return RecoveryStep(
        name="re-issue client tokens",
        command="re-issue bearer tokens signed with the new JWT secret",
        run=run,
    )
