"""The `[target.auth]` table: how drillbook authenticates to the target (the secret stays out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.schema import (
    Choice,
    Context,
    EnvVar,
    Text,
    TextList,
    build,
    secret_guard,
    setting,
)

__all__ = ["AUTH_KINDS", "JWT_ALGORITHMS", "AuthKind", "AuthSettings", "parse"]

AuthKind = Literal["none", "jwt"]
AUTH_KINDS: Final[tuple[AuthKind, ...]] = get_args(AuthKind)
# HMAC only: drillbook mints tokens from a shared secret; asymmetric keys would need a key file.
JWT_ALGORITHMS: Final = ("HS256", "HS384", "HS512")


@secret_guard
@dataclass(frozen=True)
class AuthSettings:
    """How drillbook authenticates to the target. The secret itself never goes in the file."""

    kind: AuthKind = field(
        default="none",
        metadata=setting(
            Choice(AUTH_KINDS),
            'With "jwt", probes that have `auth = true` carry a freshly minted bearer token.',
        ),
    )
    secret_env: str = field(
        default="ELEANOR_JWT_SECRET",
        metadata=setting(
            EnvVar(
                "the name of an environment variable (letters, digits, _), not the secret",
                "export the secret as e.g. ELEANOR_JWT_SECRET and name that variable here",
                is_secret=True,
            ),
            "Name of the environment variable holding the signing secret.",
        ),
    )
    algorithm: str = field(
        default="HS256",
        metadata=setting(
            Choice(
                JWT_ALGORITHMS,
                hint="drillbook signs tokens with the shared secret, so only HMAC algorithms apply",
            ),
            "JWT signing algorithm (HMAC family: HS256, HS384, HS512).",
        ),
    )
    subject: str = field(
        default="drillbook",
        metadata=setting(
            Text(), "The `sub` claim, so the target's logs can tell drill traffic apart."
        ),
    )
    roles: tuple[str, ...] = field(default=(), metadata=setting(TextList(), "The `roles` claim."))
    scopes: tuple[str, ...] = field(default=(), metadata=setting(TextList(), "The `scopes` claim."))


def parse(context: Context, table: dict[str, Any]) -> AuthSettings:
    return build(context, "target.auth", table, AuthSettings)
