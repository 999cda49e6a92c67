"""Actions of scenario 5 (secrets management failure): faults and the plan's runbook steps,
on the provider under drill (the control's `secrets_provider`).

Faults: the JWT secret deleted, revoked after a leak, the application's access revoked, the
provider down. Runbook: check the provider (`vault status`, `aws secretsmanager
describe-secret`), fall back to environment variables (Option A), restore the secret, re-issue
access, restart the provider, rotate the leaked secret and re-issue tokens (Option B); the
service's restart is scenario 1's `restart_workload`.
"""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.secrets.pointing import store_of
from drillbook.chaos.secrets.values import APP_PROVIDER_KEY, LEAKED_KEY, rotated
from drillbook.chaos.session import ChaosSession, current
from drillbook.chaos.steps import inject, recover
from drillbook.core.redaction import register_secret
from drillbook.scenarios.secrets import faults, runbook
from drillbook.scenarios.secrets.pointing import break_glass

__all__ = [
    "check_provider_status",
    "delete_secret",
    "fall_back_to_env",
    "reissue_access",
    "reissue_tokens",
    "restart_provider",
    "restore_secret",
    "revoke_access",
    "revoke_secret",
    "rotate_secret",
    "take_provider_down",
]


def _shows_after_cache_ttl(session: ChaosSession) -> None:
    # The service caches its secrets: a broken provider shows once the cached copy expires.
    config = session.drill.config
    session.detect_within = config.probing.detect_timeout_seconds + config.secrets.cache_ttl_seconds


@phase("inject")
def delete_secret() -> dict[str, Any]:
    """The JWT secret deleted in the provider (recoverable: the undo restores it)."""
    session = current()
    _shows_after_cache_ttl(session)
    return inject(session, faults.delete_secret(store_of(session)))


@phase("inject")
def revoke_secret() -> dict[str, Any]:
    """The JWT secret leaked and revoked: deleted, never to be served again."""
    session = current()
    store = store_of(session)
    leaked = store.provider.get(store.paths.jwt_secret)
    register_secret(leaked)
    session.memo[LEAKED_KEY] = leaked
    _shows_after_cache_ttl(session)
    return inject(session, faults.revoke_secret(store))


@phase("inject")
def revoke_access() -> dict[str, Any]:
    """The application's access to the provider revoked (its Vault token)."""
    session = current()
    _shows_after_cache_ttl(session)
    return inject(session, faults.revoke_access(store_of(session)))


@phase("inject")
def take_provider_down() -> dict[str, Any]:
    """The secrets provider down (its process killed)."""
    session = current()
    _shows_after_cache_ttl(session)
    return inject(session, faults.take_provider_down(session.platform, store_of(session)))


@phase("recover")
def check_provider_status() -> dict[str, Any]:
    """Immediate response: is the provider up, can the secret be read (the diagnosis)."""
    session = current()
    return recover(session, runbook.check_provider_status(store_of(session)))


@phase("recover")
def fall_back_to_env(component: str = "app") -> dict[str, Any]:
    """Option A: `kubectl set env` the operator's copy of the secrets into the Deployment and
    point it at the environment, then wait until it is ready."""
    session = current()
    store = store_of(session)
    app = session.component(component)
    ready = session.drill.config.objectives.rto_for(app.tier)
    step = runbook.fall_back_to_env(
        session.platform, app, lambda: break_glass(store), ready_timeout=ready
    )
    session.memo[APP_PROVIDER_KEY] = "env"
    return recover(session, step)


@phase("recover")
def restore_secret() -> dict[str, Any]:
    """Option B: restore the deleted secret (Secrets Manager's recovery window, Vault's
    undelete)."""
    session = current()
    return recover(session, runbook.restore_secret(store_of(session)))


@phase("recover")
def reissue_access() -> dict[str, Any]:
    """Option B: a new token for the application, in place of the revoked one."""
    session = current()
    return recover(session, runbook.reissue_access(store_of(session)))


@phase("recover")
def restart_provider() -> dict[str, Any]:
    """Option B: restart the provider and wait until it serves the secret again."""
    session = current()
    return recover(session, runbook.restart_provider(session.platform, store_of(session)))


@phase("recover")
def rotate_secret() -> dict[str, Any]:
    """Option B after a leak: a new JWT secret in the provider (the leaked one never served
    again)."""
    session = current()
    new = rotated(session)
    return recover(session, runbook.rotate_secret(store_of(session), lambda: new))


@phase("recover")
def reissue_tokens() -> dict[str, Any]:
    """After a rotation: clients' tokens (here drillbook's probes') signed with the new secret."""
    session = current()
    new = rotated(session)
    return recover(session, runbook.reissue_tokens(session.target.tokens, lambda: new))
