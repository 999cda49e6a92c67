"""JWT bearer authentication of the reference service (and the token issuer drills use).

Tokens are shared-secret JWTs (HS256 by default) carrying `sub`, `iat`, `exp`, `roles` and
`scopes`. `issue_token` (drillbook.core.contracts) is what drillbook calls to talk to the service;
`verify_token` is what the service calls on each protected request. Neither function ever
logs or embeds the secret or the token in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

# Token claims and issuing are a contract with drillbook's checks and prober.
from drillbook.core.contracts import DEFAULT_ALGORITHM as DEFAULT_ALGORITHM
from drillbook.core.contracts import issue_token as issue_token


class AuthError(Exception):
    """A bearer token is missing, malformed, badly signed or expired.

    The message is safe to return to the client: it never contains the token or the secret.
    """


@dataclass(frozen=True)
class Principal:
    """The verified identity behind a request."""

    subject: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    expires_at: int


def verify_token(token: str, secret: str, *, algorithm: str = DEFAULT_ALGORITHM) -> Principal:
    """Check signature, algorithm and expiry of `token`; return who it speaks for.

    Raises `AuthError` with a client-safe reason on any failure.
    """
    try:
        claims: Mapping[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError("invalid token signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the required claim {exc.claim!r}") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(f"token is not signed with {algorithm}") from None
    except jwt.PyJWTError:
        raise AuthError("invalid token") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("token subject must be a non-empty string")
    return Principal(
        subject=subject,
        roles=_strings(claims.get("roles")),
        scopes=_strings(claims.get("scopes")),
        expires_at=int(claims["exp"]),
    )


def bearer_token(authorization: str | None) -> str:
    """Extract the token from an `Authorization: Bearer <token>` header value."""
    if not authorization:
        raise AuthError("missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("authorization header must be 'Bearer <token>'")
    return token.strip()


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return ()
