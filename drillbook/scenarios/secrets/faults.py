"""Secrets-provider faults (scenario 5): the secret deleted or revoked, the application's access
revoked, the provider down; and the routine change each must survive, a scheduled rotation.

Every undo is data (an `UndoAction` executed by `SecretsUndo` of this package's stores, or by the
platform): on the embedded stack it returns the provider to the stack's seeded state, which is
also right after a rotation; a Kubernetes Secret is put back from the copy its delete kept in
the cluster (also after a rotation, with the pods rolled onto it); elsewhere it restores the
deleted secret. No undo carries a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drillbook.core.platform import Platform
from drillbook.core.redaction import register_secret
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.core.undo_handlers import handler_undo
from drillbook.errors import InvalidDrill
from drillbook.probes.auth import TokenProvider
from drillbook.scenarios.secrets.stores import UNDO_PLATFORM
from drillbook.scenarios.workloads.faults import reconcile
from drillbook.secrets.kubernetes import KubernetesSecretProvider, put_back_secret
from drillbook.secrets.store import SecretStore

APP_COMPONENT = "app"
"""Whose logs show the effect (the report attaches the affected component's log tails)."""


def _undo(
    store: SecretStore, description: str, path: str | None = None, *, restart_app: bool = False
) -> UndoAction:
    provider = store.provider
    if isinstance(provider, KubernetesSecretProvider):
        return handler_undo(
            f"{description}: from the copy kept in the cluster",
            put_back_secret,
            namespace=provider.namespace,
            name=path or store.paths.jwt_secret,
            key=provider.key,
            component=APP_COMPONENT,
        )
    if store.seed:
        return UndoAction(
            description=f"{description}: back to the stack's seeded state",
            platform=UNDO_PLATFORM,
            verb="reseed",
            args={"provider": store.name, "component": APP_COMPONENT, "restart_app": restart_app},
        )
    if path is None:
        raise InvalidDrill(
            f"no automatic undo for this fault on secrets provider '{store.name}' outside the "
            "embedded stack; drill it where the provider's state can be restored"
        )
    return UndoAction(
        description=description,
        platform=UNDO_PLATFORM,
        verb="restore_secret",
        args={"provider": store.name, "path": path, "component": APP_COMPONENT},
    )


@undone_by("restore the secret in its provider (the embedded stack: back to its seeded state)")
def delete_secret(store: SecretStore, path: str | None = None) -> Fault:
    """The secret deleted at the provider: AWS with its recovery window, Vault's KV v2 soft
    delete (both restorable, as an operator's mistake usually is)."""
    target = path or store.paths.jwt_secret

    def inject() -> Mapping[str, Any]:
        store.provider.delete(target)
        return {"provider": store.name, "secret": store.location(target)}

    how = (
        f"with a {getattr(store.provider, 'recovery_window_days', 0)}-day recovery window"
        if store.name == "aws"
        else "soft delete"
    )
    return Fault(
        name=f"delete-secret-{store.name}",
        description=f"delete {store.location(target)} in {store.name} ({how})",
        inject=inject,
        undo=_undo(store, f"restore {store.location(target)} in {store.name}", target),
    )


@undone_by("put the secret back in its provider (the embedded stack: back to its seeded state)")
def revoke_secret(store: SecretStore, path: str | None = None) -> Fault:
    """The JWT secret revoked because it leaked: deleted at the provider, and its value must
    never be accepted again (recovery rotates it; the drill checks the old one stays out)."""
    target = path or store.paths.jwt_secret

    def inject() -> Mapping[str, Any]:
        store.provider.delete(target)
        return {"provider": store.name, "secret": store.location(target), "revoked": True}

    return Fault(
        name=f"revoke-secret-{store.name}",
        description=f"revoke the leaked {store.location(target)} in {store.name}",
        inject=inject,
        undo=_undo(
            store,
            f"put {store.location(target)} back in {store.name}",
            # A Kubernetes Secret has a kept copy to put back; elsewhere only a seeded store can
            # be returned to its state after a rotation.
            target if isinstance(store.provider, KubernetesSecretProvider) else None,
        ),
    )


@undone_by(
    "put the original value back, then restart the application (it may have read the rotated one)"
)
def rotate_secret_on_schedule(
    store: SecretStore,
    new_value: Callable[[], str],
    tokens: TokenProvider,
    path: str | None = None,
) -> Fault:
    """A scheduled rotation, the change every secret sees routinely: a new value written at the
    provider (a new version: AWS's put-secret-value, a KV v2 write) and, at the same moment, the
    clients' tokens re-issued with it. Nothing is broken; what it tests is whether the service
    takes the new value up (and drops the old) without a restart. The undo puts the original
    value back, which only the embedded stack's seeded state knows."""
    target = path or store.paths.jwt_secret
    if isinstance(store.provider, KubernetesSecretProvider):
        raise InvalidDrill(
            f"a scheduled rotation of Kubernetes Secret {store.location(target)} has no undo: "
            "only a deleted Secret keeps a copy in the cluster to put back; drill the rotation "
            "with Vault or AWS Secrets Manager on the embedded stack"
        )
    # A service that reads its secret once (the secret-needs-restart finding) still holds the
    # rotated value once the original is back: the undo restarts it so it reads the original.
    undo = _undo(
        store,
        f"put the original {store.location(target)} back in {store.name} and restart the "
        "application (it may hold the rotated value)",
        restart_app=True,
    )

    def inject() -> Mapping[str, Any]:
        value = new_value()
        register_secret(value)
        store.provider.put(target, value)
        tokens.rotate(value)
        return {
            "provider": store.name,
            "secret": store.location(target),
            "rotated": "to a new value",
            "tokens": "re-issued with the new secret",
        }

    return Fault(
        name=f"rotate-secret-{store.name}",
        description=(
            f"rotate {store.location(target)} in {store.name} to a new value (scheduled) and "
            "re-issue the clients' tokens with it"
        ),
        inject=inject,
        undo=undo,
    )


@undone_by("re-issue the application's token at the provider")
def revoke_access(store: SecretStore) -> Fault:
    """The application's access revoked: its Vault token (`vault token revoke`)."""
    access = store.access
    if access is None:
        raise InvalidDrill(
            f"revoking the application's access needs its credentials to '{store.name}', which "
            "drillbook only knows on the embedded stack (its Vault token file)"
        )

    def inject() -> Mapping[str, Any]:
        access.revoke()
        return {"provider": store.name, "revoked": "the application's token"}

    return Fault(
        name=f"revoke-access-{store.name}",
        description=f"revoke the application's {store.name} token",
        inject=inject,
        undo=_undo(store, f"re-issue the application's {store.name} token"),
    )


@undone_by("bring the provider back to its desired replicas (seeded again)")
def take_provider_down(platform: Platform, store: SecretStore) -> Fault:
    """The provider down: every process serving it killed through the platform."""
    component = store.component
    if component is None:
        raise InvalidDrill(
            f"secrets provider '{store.name}' has no platform component to take down; set "
            f"[secrets.{store.name}] component (a managed service cannot be killed from here)"
        )

    def inject() -> Mapping[str, Any]:
        killed = platform.kill(component, count="all")
        return {"provider": store.name, "killed": [r.name for r in killed]}

    undo = (
        _undo(store, f"start {component} again") if store.seed else reconcile(platform, component)
    )
    return Fault(
        name=f"provider-down-{store.name}",
        description=f"take {store.name} down: kill every replica of {component} (SIGKILL)",
        inject=inject,
        undo=undo,
        stops=component,
    )
