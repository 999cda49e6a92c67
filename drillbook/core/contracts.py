"""What drillbook and the service it drills must agree on, in one place.

Both sides import from here: drillbook's checks (ledger verification, secrets checks, the
precedent ledger) and the embedded stand-in service (`eleanor_reference`). Drillbook never
imports the service; the service imports these names from drillbook. Keep this module plain:
the standard library only, plus pyjwt inside `issue_token` (a core dependency of drillbook,
imported there because it loads `cryptography` when that is installed).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

# --------------------------------------------------------------------------- evidence ledger

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first record of an evidence chain."""

_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)
"""What json.dumps builds anew on every call with these arguments; built once because chain
verification serializes every record (drillbook/ledger/chain.py, benchmarks/)."""


def canonical_json(obj: Any) -> str:
    """Serialize `obj` deterministically: sorted keys, no whitespace, ASCII, no NaN."""
    return _CANONICAL_ENCODER.encode(obj)


# --------------------------------------------------------------------------- precedents

COLLECTION = "Precedent"
"""The Weaviate collection holding precedents (properties `text` and `metadata`)."""

PRECEDENT_NAMESPACE = uuid.UUID("6f1c5a52-6a8e-4c43-9a5e-0c6f1d6f2b31")
"""Object ids are uuid5(PRECEDENT_NAMESPACE, key): a caller's key always maps to the same id."""


def precedent_id(key: str) -> str:
    """The Weaviate object id of the precedent with this key."""
    return str(uuid.uuid5(PRECEDENT_NAMESPACE, key))


# --------------------------------------------------------------------------- secrets

JWT_SECRET_NAME = "jwt-secret"
LLM_API_KEY_NAME = "llm-api-key"
"""The service's names for its two secrets (in its providers and its health report)."""

PROVIDER_ENV = "ELEANOR_SECURITY__SECRET_PROVIDER"
"""Which secrets provider the service reads (`env`, `aws`, `vault`)."""
JWT_ENV = "JWT_SECRET"
API_KEY_ENV = "ELEANOR_LLM_API_KEY"
"""The variables the service's `env` provider reads (the plan's Option A sets them)."""


# --------------------------------------------------------------------------- bearer tokens

DEFAULT_ALGORITHM = "HS256"
"""The JWT signing algorithm both sides use unless configured otherwise."""


def issue_token(
    secret: str,
    *,
    subject: str = "drillbook",
    ttl_seconds: int = 300,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    algorithm: str = DEFAULT_ALGORITHM,
) -> str:
    """Return a signed JWT for `subject` (claims `sub`, `iat`, `exp`, `roles`, `scopes`).

    Valid for `ttl_seconds` from now; a negative `ttl_seconds` yields an already expired token
    (useful in tests). Never embeds the secret in an error message.
    """
    import jwt

    if not secret:
        raise ValueError("issue_token needs a non-empty secret")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + int(ttl_seconds),
        "roles": list(roles),
        "scopes": list(scopes),
    }
    return jwt.encode(claims, secret, algorithm=algorithm)
