"""The `[secrets]` section: the providers of scenario 5 (secrets management failure).

```toml
[secrets]
providers = ["vault", "aws"]            # vault | aws | kubernetes | environment
jwt_secret = "eleanor/prod/jwt-secret"  # the name/path in every provider
api_key = "eleanor/prod/llm-api-key"
cache_ttl = "5m"                        # the target's ELEANOR_SECURITY__SECRETS_CACHE_TTL

[secrets.vault]
address = "https://vault.example:8200"  # omitted on the embedded stack
mount = "secret"
field = "value"
token_env = "VAULT_TOKEN"               # drillbook's token comes from the environment
component = "vault"                     # [target.components] entry, for the provider-down fault

[secrets.aws]
region = "us-east-1"
endpoint_url = "https://..."            # omitted: AWS itself (or the embedded stack's)
recovery_window_days = 7
component = "secrets-manager"

[secrets.kubernetes]
namespace = "eleanor-v8"
key = "value"
```

Validated with the loader's helpers, so its errors read like every other configuration error.
No secret value is ever accepted here: tokens come from the environment.
"""

from __future__ import annotations

import re
from typing import Any

from drillbook.config.loader import (
    _ENV_VAR,
    _check_keys,
    _choice,
    _Context,
    _duration,
    _int,
    _table,
    _text,
    _url,
)
from drillbook.config.model import (
    SECRET_PROVIDERS,
    AwsSecretsSettings,
    KubernetesSecretsSettings,
    SecretProviderName,
    SecretsSettings,
    VaultSecretsSettings,
)

_KEYS = ("providers", "jwt_secret", "api_key", "cache_ttl", "vault", "aws", "kubernetes")
_VAULT_KEYS = ("address", "mount", "field", "token_env", "component")
_AWS_KEYS = ("region", "endpoint_url", "recovery_window_days", "component")
_KUBERNETES_KEYS = ("namespace", "key")
# Names as the providers allow them: AWS secret names and Vault paths (letters, digits, /_+=.@-).
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]+")
_AWS_MIN_WINDOW, _AWS_MAX_WINDOW = 7, 30


def parse_secrets(context: _Context, table: dict[str, Any]) -> SecretsSettings:
    _check_keys(context, "secrets", table, _KEYS, secret_guard=True)
    kwargs: dict[str, Any] = {}
    if "providers" in table:
        kwargs["providers"] = _providers(context, table["providers"])
    for name in ("jwt_secret", "api_key"):
        if name in table:
            kwargs[name] = _secret_name(context, f"secrets.{name}", table[name])
    if "cache_ttl" in table:
        kwargs["cache_ttl_seconds"] = _duration(context, "secrets.cache_ttl", table["cache_ttl"])
    if "vault" in table:
        kwargs["vault"] = _vault(context, _table(context, "secrets.vault", table, key="vault"))
    if "aws" in table:
        kwargs["aws"] = _aws(context, _table(context, "secrets.aws", table, key="aws"))
    if "kubernetes" in table:
        kwargs["kubernetes"] = _kubernetes(
            context, _table(context, "secrets.kubernetes", table, key="kubernetes")
        )
    return SecretsSettings(**kwargs)


def _providers(context: _Context, value: object) -> tuple[SecretProviderName, ...]:
    key = "secrets.providers"
    if not isinstance(value, list | tuple):
        context.fail(key, value, 'a list of providers such as ["vault", "aws"]')
    chosen: list[SecretProviderName] = []
    for index, item in enumerate(value):
        provider = _choice(context, f"{key}[{index}]", item, SECRET_PROVIDERS)
        if provider in chosen:
            context.fail(f"{key}[{index}]", item, "each provider once")
        chosen.append(provider)
    return tuple(chosen)


def _secret_name(context: _Context, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        context.fail(
            key,
            value,
            "the secret's name in the providers, e.g. 'eleanor/prod/jwt-secret'",
            "the drill needs to know which secret to break; never put the value here",
        )
    name = value.strip()
    if not _SECRET_NAME.fullmatch(name) or name.startswith("/") or name.endswith("/"):
        context.fail(
            key,
            value,
            "a secret name of letters, digits and / _ + = . @ - (no leading or trailing /)",
        )
    return name


def _component(context: _Context, key: str, value: object) -> str:
    return _text(context, key, value)


def _vault(context: _Context, table: dict[str, Any]) -> VaultSecretsSettings:
    _check_keys(context, "secrets.vault", table, _VAULT_KEYS, secret_guard=True)
    kwargs: dict[str, Any] = {}
    if "address" in table:
        kwargs["address"] = _url(context, "secrets.vault.address", table["address"])
    for name in ("mount", "field"):
        if name in table:
            kwargs[name] = _text(context, f"secrets.vault.{name}", table[name]).strip("/")
    if "token_env" in table:
        env = _text(context, "secrets.vault.token_env", table["token_env"])
        if not _ENV_VAR.fullmatch(env):
            context.fail(
                "secrets.vault.token_env",
                env,
                "the name of an environment variable, e.g. VAULT_TOKEN",
                "the token itself never goes in the file",
            )
        kwargs["token_env"] = env
    if "component" in table:
        kwargs["component"] = _component(context, "secrets.vault.component", table["component"])
    return VaultSecretsSettings(**kwargs)


def _aws(context: _Context, table: dict[str, Any]) -> AwsSecretsSettings:
    _check_keys(context, "secrets.aws", table, _AWS_KEYS, secret_guard=True)
    kwargs: dict[str, Any] = {}
    if "region" in table:
        kwargs["region"] = _text(context, "secrets.aws.region", table["region"])
    if "endpoint_url" in table:
        kwargs["endpoint_url"] = _url(context, "secrets.aws.endpoint_url", table["endpoint_url"])
    if "recovery_window_days" in table:
        key = "secrets.aws.recovery_window_days"
        days = _int(context, key, table["recovery_window_days"], minimum=_AWS_MIN_WINDOW)
        if days > _AWS_MAX_WINDOW:
            context.fail(key, days, f"{_AWS_MIN_WINDOW} to {_AWS_MAX_WINDOW} days, as AWS allows")
        kwargs["recovery_window_days"] = days
    if "component" in table:
        kwargs["component"] = _component(context, "secrets.aws.component", table["component"])
    return AwsSecretsSettings(**kwargs)


def _kubernetes(context: _Context, table: dict[str, Any]) -> KubernetesSecretsSettings:
    _check_keys(context, "secrets.kubernetes", table, _KUBERNETES_KEYS, secret_guard=True)
    kwargs: dict[str, Any] = {}
    for name in _KUBERNETES_KEYS:
        if name in table:
            kwargs[name] = _text(context, f"secrets.kubernetes.{name}", table[name])
    return KubernetesSecretsSettings(**kwargs)
