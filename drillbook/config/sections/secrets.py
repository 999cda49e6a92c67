"""The `[secrets]` table: the providers of scenario 5 (secrets management failure).

```toml
[secrets]
providers = ["vault", "aws"]            # vault | aws | kubernetes | environment
jwt_secret = "eleanor/prod/jwt-secret"  # the name/path in every provider
api_key = "eleanor/prod/llm-api-key"
cache_ttl = "5m"                        # the target's ELEANOR_SECURITY__SECRETS_CACHE_TTL
rotation_window = "5m10s"               # rotation taken up by then (default: cache_ttl + 10s)

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

No secret value is ever accepted here: tokens come from the environment, and every table of the
section refuses a key named like a secret without echoing its value.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.schema import (
    Context,
    Duration,
    EnvVar,
    Integer,
    Kind,
    Table,
    Text,
    Url,
    build,
    choice,
    secret_guard,
    setting,
)

__all__ = [
    "SECRET_PROVIDERS",
    "AwsSecretsSettings",
    "KubernetesSecretsSettings",
    "SecretProviderName",
    "SecretsSettings",
    "VaultSecretsSettings",
    "parse",
]

SecretProviderName = Literal["vault", "aws", "kubernetes", "environment"]
SECRET_PROVIDERS: Final[tuple[SecretProviderName, ...]] = get_args(SecretProviderName)

# Names as the providers allow them: AWS secret names and Vault paths (letters, digits, /_+=.@-).
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]+")
_AWS_MIN_WINDOW, _AWS_MAX_WINDOW = 7, 30
ROTATION_MARGIN_SECONDS: Final = 10.0
"""Beyond one cache TTL, how long a rotated secret may take to be taken up by default: a
refresh under way, the probe interval and a slow provider answer fit in it."""


@dataclass(frozen=True)
class _Providers(Kind):
    def parse(self, context: Context, key: str, value: object) -> tuple[SecretProviderName, ...]:
        if not isinstance(value, list | tuple):
            context.fail(key, value, 'a list of providers such as ["vault", "aws"]')
        chosen: list[SecretProviderName] = []
        for index, item in enumerate(value):
            provider = choice(context, f"{key}[{index}]", item, SECRET_PROVIDERS)
            if provider in chosen:
                context.fail(f"{key}[{index}]", item, "each provider once")
            chosen.append(provider)
        return tuple(chosen)

    def describe(self) -> str:
        return "list of " + ", ".join(f"`{provider}`" for provider in SECRET_PROVIDERS)


@dataclass(frozen=True)
class _SecretName(Kind):
    """The name or path of a secret in the providers, never its value."""

    def parse(self, context: Context, key: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            context.fail(
                key,
                value,
                "the secret's name in the providers, e.g. 'eleanor/prod/jwt-secret'",
                "the drill needs to know which secret to break; never put the value here",
            )
        secret_name = value.strip()
        if (
            not _SECRET_NAME.fullmatch(secret_name)
            or secret_name.startswith("/")
            or secret_name.endswith("/")
        ):
            context.fail(
                key,
                value,
                "a secret name of letters, digits and / _ + = . @ - (no leading or trailing /)",
            )
        return secret_name

    def describe(self) -> str:
        return "secret name/path"


def _strip_slashes(value: str) -> str:
    return value.strip("/")


@secret_guard
@dataclass(frozen=True)
class VaultSecretsSettings:
    """HashiCorp Vault (or OpenBao) with KV v2, for the secrets drill."""

    # dataclasses.field in full: from the field named `field` on, `field` is that field here.

    address: str | None = dataclasses.field(
        default=None,
        metadata=setting(
            Url(),
            'e.g. "https://vault.example:8200"; not set on platform "local": the embedded OpenBao.',
        ),
    )
    mount: str = dataclasses.field(
        default="secret",
        metadata=setting(
            Text(transform=_strip_slashes),
            "The KV v2 mount (the plan's `secret/eleanor/prod/jwt-secret` is mount `secret`).",
        ),
    )
    field: str = dataclasses.field(
        default="value",
        metadata=setting(
            Text(transform=_strip_slashes),
            "The field of the secret that holds the value (ELEANOR V8 reads `value`).",
        ),
    )
    token_env: str = dataclasses.field(
        default="VAULT_TOKEN",
        metadata=setting(
            EnvVar(
                "the name of an environment variable, e.g. VAULT_TOKEN",
                "the token itself never goes in the file",
            ),
            "Environment variable holding drillbook's Vault token (never the file).",
        ),
    )
    component: str | None = dataclasses.field(
        default=None,
        metadata=setting(
            Text(what="component name"),
            "Platform component running Vault, for the provider-down fault; not set: not drilled.",
        ),
    )


@secret_guard
@dataclass(frozen=True)
class AwsSecretsSettings:
    """AWS Secrets Manager, for the secrets drill (credentials: boto3's usual chain)."""

    region: str = field(
        default="us-east-1", metadata=setting(Text(), "AWS region of Secrets Manager.")
    )
    endpoint_url: str | None = field(
        default=None,
        metadata=setting(
            Url(),
            "Not set: AWS itself, or the embedded stack's Secrets Manager endpoint on platform "
            "local.",
        ),
    )
    recovery_window_days: int = field(
        default=7,
        metadata=setting(
            Integer(
                minimum=_AWS_MIN_WINDOW,
                maximum=_AWS_MAX_WINDOW,
                over=f"{_AWS_MIN_WINDOW} to {_AWS_MAX_WINDOW} days, as AWS allows",
            ),
            "The recovery window of the secret-deleted fault, in days (7-30, as AWS allows).",
        ),
    )
    component: str | None = field(
        default=None,
        metadata=setting(
            Text(what="component name"),
            "Platform component serving the endpoint, for the provider-down fault; not set: not "
            "drilled.",
        ),
    )


@secret_guard
@dataclass(frozen=True)
class KubernetesSecretsSettings:
    """Kubernetes Secrets, for the secrets drill (through the Kubernetes platform's client)."""

    namespace: str = field(
        default="eleanor-v8", metadata=setting(Text(), "The namespace of the Secrets.")
    )
    key: str = field(
        default="value",
        metadata=setting(Text(), "The key of the Secret's data that holds the value."),
    )


@secret_guard
@dataclass(frozen=True)
class SecretsSettings:
    """The secrets providers of scenario 5 (secrets management failure) and what is in them."""

    providers: tuple[SecretProviderName, ...] = field(
        default=(),
        metadata=setting(
            _Providers(),
            "The providers the secrets drill runs against, in order, each once; empty: no "
            "secrets drill.",
        ),
    )
    jwt_secret: str = field(
        default="eleanor/prod/jwt-secret",
        metadata=setting(
            _SecretName(),
            "The JWT signing secret's name/path in every provider (a Secret's name on "
            "Kubernetes); never its value.",
        ),
    )
    api_key: str = field(
        default="eleanor/prod/llm-api-key",
        metadata=setting(
            _SecretName(),
            "The outbound (LLM) API key's name/path in every provider; never its value.",
        ),
    )
    cache_ttl_seconds: float = field(
        default=300.0,
        metadata=setting(
            Duration(),
            "How long the target caches a secret (ELEANOR_SECURITY__SECRETS_CACHE_TTL): a "
            "revoked secret takes up to this long to show, so it extends the detection deadline.",
            key="cache_ttl",
        ),
    )
    rotation_window_seconds: float | None = field(
        default=None,
        metadata=setting(
            Duration(positive="a duration longer than 0"),
            "How long after a scheduled rotation the service may take to accept the new JWT "
            "secret and refuse the old one without a restart; longer, and the drill reports the "
            "secret-needs-restart finding and restarts it. Not set: `cache_ttl` plus "
            f"{ROTATION_MARGIN_SECONDS:g}s.",
            key="rotation_window",
        ),
    )
    vault: VaultSecretsSettings = field(
        default=VaultSecretsSettings(),
        metadata=setting(Table(VaultSecretsSettings), "The Vault provider."),
    )
    aws: AwsSecretsSettings = field(
        default=AwsSecretsSettings(),
        metadata=setting(Table(AwsSecretsSettings), "The AWS Secrets Manager provider."),
    )
    kubernetes: KubernetesSecretsSettings = field(
        default=KubernetesSecretsSettings(),
        metadata=setting(Table(KubernetesSecretsSettings), "The Kubernetes Secrets provider."),
    )

    @property
    def take_up_window_seconds(self) -> float:
        """The rotation window in force: `rotation_window`, else one cache TTL and a margin."""
        if self.rotation_window_seconds is not None:
            return self.rotation_window_seconds
        return self.cache_ttl_seconds + ROTATION_MARGIN_SECONDS


def parse(context: Context, table: dict[str, Any]) -> SecretsSettings:
    return build(context, "secrets", table, SecretsSettings)
