"""Secret stores: a provider as the secrets drill sees it, with the process behind it and the
application's access to it; and the executor of their journaled undos.

A `SecretStore` joins what a drill needs to break and repair one provider: the provider client
(drillbook's own, admin-level credentials), the paths of the application's secrets, the platform
component that serves it (to take it down), how the application authenticates to it (to revoke
and re-issue that access), and on the embedded stack the values the stack seeded, which play the
part of the provider's durable storage (the dev servers keep everything in memory).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.engine.undo import UndoAction
from drillbook.errors import ConfigError, InvalidDrill, SecretNotFound
from drillbook.reporting.redaction import register_secret
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.base import SecretProvider
from drillbook.secrets.environment import EnvironmentProvider
from drillbook.secrets.vault import VaultKvProvider

if TYPE_CHECKING:
    from drillbook.config.model import (
        AwsSecretsSettings,
        DrillbookConfig,
        SecretsSettings,
        VaultSecretsSettings,
    )
    from drillbook.platforms.base import Platform
    from drillbook.stack.local_stack import LocalStack
    from drillbook.target import Target

UNDO_PLATFORM = "secrets"
"""`UndoAction.platform` of secrets undos (executed by `SecretsUndo`, not by the platform)."""
APP_POLICY = "eleanor-app"
"""The Vault policy of the application's token: read its own secrets, nothing else."""
READY_TIMEOUT_SECONDS = 30.0

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
        staging = self.token_file.with_suffix(".tmp")
        staging.touch(mode=0o600)
        staging.write_text(token, encoding="utf-8")
        staging.replace(self.token_file)


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


class SecretStores(dict[str, SecretStore]):
    """The configured stores by provider name, in the configuration's order."""

    def store(self, name: str) -> SecretStore:
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self) or "none"
            raise InvalidDrill(
                f"secrets provider '{name}' is not configured (configured: {known}); add it to "
                "[secrets] providers"
            ) from None


def open_secret_stores(
    config: DrillbookConfig,
    *,
    stack: LocalStack | None = None,
    platform: Platform | None = None,
) -> SecretStores:
    """The stores of every provider in `[secrets] providers`; on the embedded stack their
    addresses, tokens and seeded values are the stack's own; Kubernetes Secrets are reached
    through the Kubernetes `platform`'s API client."""
    settings = config.secrets
    paths = SecretPaths(jwt_secret=settings.jwt_secret, api_key=settings.api_key)
    stores = SecretStores()
    for name in settings.providers:
        if name == "kubernetes":
            stores[name] = _kubernetes_store(settings, paths, platform)
            continue
        stores[name] = _store(name, settings, paths, stack, source=config.source)
    return stores


def _kubernetes_store(
    settings: SecretsSettings, paths: SecretPaths, platform: Platform | None
) -> SecretStore:
    make = getattr(platform, "secrets_provider", None)
    if make is None:
        raise InvalidDrill(
            "secrets provider 'kubernetes' needs platform 'kubernetes' and its API client "
            '(platform = "kubernetes" in the configuration)'
        )
    provider = make(settings.kubernetes.namespace, settings.kubernetes.key)
    return SecretStore(provider, paths)


def embedded_store(stack: LocalStack, name: str) -> SecretStore:
    """One provider of the embedded stack with the default paths (to seed it at start-up)."""
    from drillbook.config.model import EMBEDDED_SOURCE, SecretsSettings

    return _store(name, SecretsSettings(), SecretPaths(), stack, source=EMBEDDED_SOURCE)


def _store(
    name: str,
    settings: SecretsSettings,
    paths: SecretPaths,
    stack: LocalStack | None,
    *,
    source: str,
) -> SecretStore:
    if name == "vault":
        return _vault_store(settings.vault, paths, stack, source)
    if name == "aws":
        return _aws_store(settings.aws, paths, stack)
    if name == "environment":
        return SecretStore(EnvironmentProvider(), paths)
    raise InvalidDrill(
        f"secrets provider '{name}' needs platform 'kubernetes' and its API client "
        "(drillbook/platforms/kubernetes.py); build KubernetesSecretProvider from it"
    )


def _vault_store(
    vault: VaultSecretsSettings, paths: SecretPaths, stack: LocalStack | None, source: str
) -> SecretStore:
    if stack is not None:
        from drillbook.stack.services.openbao import ROOT_TOKEN, token_file, vault_address

        provider = VaultKvProvider(
            vault.address or vault_address(stack.port("vault")),
            stack.secrets[ROOT_TOKEN],
            mount=vault.mount,
            field=vault.field,
        )
        return SecretStore(
            provider,
            paths,
            component=vault.component,
            access=AppAccess(provider, token_file(stack.run_dir)),
            seed=embedded_seed(stack, paths),
        )
    if vault.address is None:
        raise ConfigError(
            f"{source}: key 'secrets.vault.address': found nothing, expected the Vault address "
            "(e.g. https://vault.example:8200) because 'vault' is in secrets.providers"
        )
    token = os.environ.get(vault.token_env, "")
    if not token:
        raise ConfigError(
            f"{source}: key 'secrets.vault.token_env': the Vault token is read from the "
            f"environment variable '{vault.token_env}', which is not set; export it first"
        )
    register_secret(token)
    provider = VaultKvProvider(vault.address, token, mount=vault.mount, field=vault.field)
    return SecretStore(provider, paths, component=vault.component)


def _aws_store(
    aws: AwsSecretsSettings, paths: SecretPaths, stack: LocalStack | None
) -> SecretStore:
    if stack is not None:
        from drillbook.stack.services.moto import ACCESS_KEY_ID, SECRET_ACCESS_KEY
        from drillbook.stack.services.secrets_manager import endpoint_url

        provider = AwsSecretsManagerProvider(
            region=aws.region,
            endpoint_url=aws.endpoint_url or endpoint_url(stack.port("secrets-manager")),
            recovery_window_days=aws.recovery_window_days,
            credentials={
                "aws_access_key_id": ACCESS_KEY_ID,
                "aws_secret_access_key": SECRET_ACCESS_KEY,
            },
        )
        return SecretStore(
            provider, paths, component=aws.component, seed=embedded_seed(stack, paths)
        )
    provider = AwsSecretsManagerProvider(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        recovery_window_days=aws.recovery_window_days,
    )
    return SecretStore(provider, paths, component=aws.component)


def embedded_seed(stack: LocalStack, paths: SecretPaths) -> dict[str, str]:
    """The values the embedded stack seeds its providers with (from its 0600 secrets file)."""
    from drillbook.stack.services.app_secrets import API_KEY, JWT

    return {paths.jwt_secret: stack.secrets[JWT], paths.api_key: stack.secrets[API_KEY]}


class SecretsUndo:
    """Executes journaled secrets undos (UndoAction.platform == "secrets").

    Verbs: `restore_secret(provider, path)` undoes a delete; `reseed(provider)` brings the
    provider's process back (platform start) and its state to the stack's seed. Stores are built
    on first use, so a session that never breaks a secret never imports boto3 or hvac for it.
    """

    VERBS = frozenset({"restore_secret", "reseed"})

    def __init__(
        self, config: DrillbookConfig, platform: Platform, stack: LocalStack | None
    ) -> None:
        self._config = config
        self._platform = platform
        self._stack = stack
        self._stores: SecretStores | None = None

    @property
    def stores(self) -> SecretStores:
        if self._stores is None:
            self._stores = open_secret_stores(
                self._config, stack=self._stack, platform=self._platform
            )
        return self._stores

    def __call__(self, action: UndoAction) -> None:
        if action.platform != UNDO_PLATFORM or action.verb not in self.VERBS:
            raise InvalidDrill(f"the secrets undo cannot execute {action.verb!r}")
        store = self.stores.store(str(action.args["provider"]))
        if action.verb == "restore_secret":
            store.provider.restore(str(action.args["path"]))
            return
        restart_provider_process(self._platform, store)
        store.seed_state()


def restart_provider_process(platform: Platform, store: SecretStore) -> float:
    """Start the provider's process where it is not running; the seconds until it is ready."""
    if store.component is None:
        return 0.0
    platform.start(store.component)
    return platform.wait_until_ready(store.component, timeout=READY_TIMEOUT_SECONDS)


def secrets_undo(target: Target) -> SecretsUndo:
    """The target's executor of secrets undos (registered under UNDO_PLATFORM)."""
    return SecretsUndo(target.config, target.platform, target.stack)
