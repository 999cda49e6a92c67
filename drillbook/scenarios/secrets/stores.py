"""The secrets drill's stores, as configured, and the executor of their journaled undos.

`open_secret_stores` opens a `SecretStore` (drillbook.secrets.store) for every provider in
`[secrets] providers`: the embedded stack's own (drillbook.stack.secret_stores), a Compose
project's or a Kubernetes cluster's own dev-mode Vault and moto (compose_stores, kube_stores:
seeded by drillbook), a Vault or AWS Secrets Manager named in the configuration, the
environment, or Kubernetes Secrets through the platform's API client. `SecretsUndo` executes
the undos the secrets faults journal.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from drillbook.core.redaction import register_secret
from drillbook.core.undo import UndoAction
from drillbook.errors import ConfigError, InvalidDrill
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.environment import EnvironmentProvider
from drillbook.secrets.store import SecretPaths, SecretStore
from drillbook.secrets.vault import VaultKvProvider
from drillbook.stack.secret_stores import aws_store, vault_store

if TYPE_CHECKING:
    from drillbook.config.model import (
        AwsSecretsSettings,
        DrillbookConfig,
        SecretsSettings,
        VaultSecretsSettings,
    )
    from drillbook.core.platform import Platform
    from drillbook.stack.local_stack import LocalStack
    from drillbook.target import Target

UNDO_PLATFORM = "secrets"
"""`UndoAction.platform` of secrets undos (executed by `SecretsUndo`, not by the platform)."""
READY_TIMEOUT_SECONDS = 30.0


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
        if config.platform == "docker" and name in ("vault", "aws"):
            # The Compose project's dev-mode providers: seeded by drillbook (compose_stores).
            from drillbook.scenarios.secrets.compose_stores import compose_store

            stores[name] = compose_store(name, config, paths, platform)
            continue
        if config.platform == "kubernetes" and _runs_in_cluster(config, name):
            # The cluster's own dev-mode providers (k8s/kind-secrets.yaml): seeded likewise.
            from drillbook.scenarios.secrets.kube_stores import kube_store

            stores[name] = kube_store(name, config, paths, platform)
            continue
        stores[name] = _store(name, settings, paths, stack, source=config.source)
    return stores


def _runs_in_cluster(config: DrillbookConfig, name: str) -> bool:
    """A Vault or AWS provider the Kubernetes target runs itself: it names a component (a
    workload drillbook may take down), like the Compose project's; else a managed service."""
    if name == "vault":
        return config.secrets.vault.component is not None
    return name == "aws" and config.secrets.aws.component is not None


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
        return vault_store(stack, vault, paths)
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
        return aws_store(stack, aws, paths)
    provider = AwsSecretsManagerProvider(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        recovery_window_days=aws.recovery_window_days,
    )
    return SecretStore(provider, paths, component=aws.component)


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
        if action.args.get("restart_app"):
            # A rotation's undo: a service that read the rotated value once holds it until
            # it restarts (the rolling restart of the plan's Option B).
            component = str(action.args.get("component", "app"))
            self._platform.restart(component)
            self._platform.wait_until_ready(component, timeout=READY_TIMEOUT_SECONDS)


def restart_provider_process(platform: Platform, store: SecretStore) -> float:
    """Start the provider's process where it is not running; the seconds until it is ready."""
    if store.component is None:
        return 0.0
    platform.start(store.component)
    return platform.wait_until_ready(store.component, timeout=READY_TIMEOUT_SECONDS)


def secrets_undo(target: Target) -> SecretsUndo:
    """The target's executor of secrets undos (registered under UNDO_PLATFORM)."""
    return SecretsUndo(target.config, target.platform, target.stack)
