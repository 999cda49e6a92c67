"""A secret store: a provider as the secrets drill sees it, with the process behind it and the
application's access to it.

A `SecretStore` joins what a drill needs to break and repair one provider: the provider client
(drillbook's own, admin-level credentials), the paths of the application's secrets, the platform
component that serves it (to take it down), how the application authenticates to it (to revoke
and re-issue that access), and on the embedded stack the values the stack seeded, which play the
part of the provider's durable storage (the dev servers keep everything in memory).

The configured stores are opened by drillbook.scenarios.secrets.stores; the embedded stack's by
drillbook.stack.secret_stores, which seeds them at start-up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.core.private_files import write_private
from drillbook.core.redaction import register_secret
from drillbook.errors import InvalidDrill, SecretNotFound
from drillbook.secrets.base import SecretProvider
from drillbook.secrets.vault import VaultKvProvider

APP_POLICY = "eleanor-app"
MOUNT_USABLE_SECONDS = 30.0
"""How long a (re)started Vault's KV mount may take to accept requests before seeding fails."""
"""The Vault policy of the application's token: read its own secrets, nothing else."""

# What the application calls each provider (ELEANOR_SECURITY__SECRET_PROVIDER).
APP_PROVIDER_NAMES = {"vault": "vault", "aws": "aws", "environment": "env"}


@dataclass(frozen=True)
class SecretPaths:
    """Where the application's secrets live in a provider."""

    jwt_secret: str = "eleanor/prod/jwt-secret"
    api_key: str = "eleanor/prod/llm-api-key"

    def all(self) -> tuple[str, str]:
        return (self.jwt_secret, self.api_key)


@dataclass
class AppAccess:
    """The application's Vault token, in a file it re-reads (as a Vault Agent sink works)."""

    admin: VaultKvProvider
    token_file: Path
    policy: str = APP_POLICY

    def current(self) -> str | None:
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        register_secret(token)
        return token or None

    def valid(self) -> bool:
        token = self.current()
        return token is not None and self.admin.token_valid(token)

    def revoke(self) -> None:
        """`vault token revoke`: the application's token stops working at once."""
        token = self.current()
        if token is None:
            raise InvalidDrill(
                f"the application's Vault token file {self.token_file} is missing; nothing to "
                "revoke"
            )
        self.admin.revoke_token(token)

    def reissue(self) -> None:
        """`vault token create -policy=eleanor-app`, written where the application reads it."""
        token = self.admin.issue_token(self.policy)
        register_secret(token)
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        write_private(self.token_file, token)


@dataclass
class SecretStore:
    """One configured provider, ready to be broken and repaired by the secrets drill."""

    provider: SecretProvider
    paths: SecretPaths
    component: str | None = None
    """Platform component serving the provider (to take it down); None: not ours to kill."""
    access: AppAccess | None = None
    """The application's credentials to it, where drillbook can revoke and re-issue them."""
    seed: Mapping[str, str] = field(default_factory=dict, repr=False)
    """path -> value the embedded stack seeded: the provider's durable state (empty elsewhere)."""

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def app_provider(self) -> str:
        """The value of ELEANOR_SECURITY__SECRET_PROVIDER that points the application here."""
        return APP_PROVIDER_NAMES.get(self.name, self.name)

    def location(self, path: str) -> str:
        return self.provider.location(path)

    def seed_state(self) -> None:
        """Bring the provider back to the stack's seeded state: every secret at its seeded value
        (restored if deleted, rewritten if rotated or lost), the application's access valid."""
        if not self.seed:
            raise InvalidDrill(
                f"secrets provider '{self.name}' has no seeded state to return to (only the "
                "embedded stack seeds its providers); restore it with the plan's runbook"
            )
        if isinstance(self.provider, VaultKvProvider):
            self.provider.wait_until_mount_usable(timeout_seconds=MOUNT_USABLE_SECONDS)
        for path, value in self.seed.items():
            with contextlib.suppress(SecretNotFound):
                self.provider.restore(path)
            try:
                current: str | None = self.provider.get(path)
            except SecretNotFound:
                current = None
            if current != value:
                self.provider.put(path, value)
        if isinstance(self.provider, VaultKvProvider):
            self.provider.write_policy(APP_POLICY, self.seed)
        if self.access is not None and not self.access.valid():
            self.access.reissue()
