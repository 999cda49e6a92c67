"""The secret values a secrets experiment needs: the operator's break-glass copy, the leaked
and the rotated JWT secret (registered for redaction; never in the journal)."""

from __future__ import annotations

import secrets

from drillbook.chaos.session import ChaosSession
from drillbook.core.redaction import register_secret
from drillbook.scenarios.secrets.pointing import break_glass
from drillbook.secrets.store import SecretStore

LEAKED_KEY = "leaked_jwt_secret"
ROTATED_KEY = "rotated_jwt_secret"
APP_PROVIDER_KEY = "app_secrets_provider"


def rotated(session: ChaosSession) -> str:
    """The new JWT secret of this drill's rotation (made once, registered for redaction)."""
    value = session.memo.get(ROTATED_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        register_secret(value)
        session.memo[ROTATED_KEY] = value
    return value


def valid_secret(session: ChaosSession, store: SecretStore) -> str:
    """The JWT secret a client must be let in with after recovery."""
    value = session.memo.get(ROTATED_KEY)
    return value if isinstance(value, str) else break_glass(store)["jwt-secret"]


def leaked_secret(session: ChaosSession) -> str | None:
    value = session.memo.get(LEAKED_KEY)
    return value if isinstance(value, str) else None
