"""The embedded stack's secrets providers as stores: its OpenBao and its Secrets Manager, with
the stack's addresses, tokens and seeded values (from its 0600 secrets file).

The stack seeds them at start-up (`embedded_store(stack, name).seed_state()`); the secrets drill
opens them through drillbook.scenarios.secrets.stores with the configuration's paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.config.model import EMBEDDED_SOURCE, SecretsSettings
from drillbook.errors import InvalidDrill
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.store import AppAccess, SecretPaths, SecretStore
from drillbook.secrets.vault import VaultKvProvider

if TYPE_CHECKING:
    from drillbook.config.model import AwsSecretsSettings, VaultSecretsSettings
    from drillbook.stack.local_stack import LocalStack


def embedded_store(stack: LocalStack, name: str) -> SecretStore:
    """One provider of the embedded stack with the default paths (to seed it at start-up)."""
    settings = SecretsSettings()
    if name == "vault":
        return vault_store(stack, settings.vault, SecretPaths())
    if name == "aws":
        return aws_store(stack, settings.aws, SecretPaths())
    raise InvalidDrill(
        f"the embedded stack runs no secrets provider '{name}' ({EMBEDDED_SOURCE}: vault, aws)"
    )


def vault_store(stack: LocalStack, vault: VaultSecretsSettings, paths: SecretPaths) -> SecretStore:
    """The stack's OpenBao, with the application's token file and the seeded values."""
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


def aws_store(stack: LocalStack, aws: AwsSecretsSettings, paths: SecretPaths) -> SecretStore:
    """The stack's Secrets Manager (moto), with the seeded values."""
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
    return SecretStore(provider, paths, component=aws.component, seed=embedded_seed(stack, paths))


def embedded_seed(stack: LocalStack, paths: SecretPaths) -> dict[str, str]:
    """The values the embedded stack seeds its providers with (from its 0600 secrets file)."""
    from drillbook.stack.services.app_secrets import API_KEY, JWT

    return {paths.jwt_secret: stack.secrets[JWT], paths.api_key: stack.secrets[API_KEY]}
