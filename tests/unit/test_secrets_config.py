"""The [secrets] section: the embedded defaults, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.errors import ConfigError
from drillbook.stack.services.app_secrets import CACHE_TTL_SECONDS


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "drillbook.toml"
    path.write_text('[[target.probes]]\nname = "health"\npath = "/health"\n' + text)
    return load_config(path)


def test_embedded_configuration_drills_vault_and_aws() -> None:
    secrets = load_config(None).secrets
    assert secrets.providers == ("vault", "aws")
    assert secrets.jwt_secret == "eleanor/prod/jwt-secret"
    assert secrets.vault.mount == "secret" and secrets.vault.field == "value"
    assert secrets.vault.component == "vault"
    assert secrets.aws.component == "secrets-manager"
    assert secrets.aws.recovery_window_days == 7
    # What the configuration says the target caches is what the stack configures its replicas to.
    assert secrets.cache_ttl_seconds == CACHE_TTL_SECONDS


def test_a_full_section_is_read(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[secrets]
providers = ["aws", "kubernetes"]
jwt_secret = "eleanor/staging/jwt-secret"
cache_ttl = "5m"
[secrets.aws]
region = "eu-west-1"
endpoint_url = "https://secretsmanager.example.internal"
recovery_window_days = 30
[secrets.kubernetes]
namespace = "eleanor"
key = "jwt"
""",
    )
    secrets = config.secrets  # type: ignore[attr-defined]
    assert secrets.providers == ("aws", "kubernetes")
    assert secrets.cache_ttl_seconds == 300
    assert secrets.aws.endpoint_url == "https://secretsmanager.example.internal"
    assert secrets.kubernetes.key == "jwt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[secrets]\nproviders = ["vualt"]\n',
            "key 'secrets.providers[0]': found 'vualt', expected one of 'vault', 'aws', "
            "'kubernetes', 'environment'; did you mean 'vault'?",
        ),
        ('[secrets]\nproviders = ["aws", "aws"]\n', "expected each provider once"),
        (
            '[secrets]\njwt_secret = ""\n',
            "key 'secrets.jwt_secret': found '', expected the secret's name in the providers",
        ),
        ('[secrets]\njwt_secret = "/leading/slash"\n', "no leading or trailing /"),
        (
            "[secrets.aws]\nrecovery_window_days = 3\n",
            "key 'secrets.aws.recovery_window_days': found 3, expected an integer >= 7",
        ),
        ("[secrets.aws]\nrecovery_window_days = 31\n", "7 to 30 days, as AWS allows"),
        ('[secrets.vault]\ntoken_env = "MY-TOKEN"\n', "the name of an environment variable"),
        ('[secrets.vault]\naddress = "vault:8200"\n', "key 'secrets.vault.address'"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    assert message in str(error.value)
    assert "drillbook.toml" in str(error.value)


def test_a_token_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, '[secrets.vault]\ntoken = "hvs.s3cr3t-token-value"\n')
    text = str(error.value)
    assert "key 'secrets.vault.token'" in text
    assert "the secret never goes in the file" in text
    assert "hvs.s3cr3t-token-value" not in text


def test_a_provider_without_its_address_or_token_is_refused_before_any_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drillbook.config.model import DrillbookConfig
    from drillbook.scenarios.secrets.stores import open_secret_stores

    without_address = _load(tmp_path, '[secrets]\nproviders = ["vault"]\n')
    assert isinstance(without_address, DrillbookConfig)
    with pytest.raises(ConfigError, match=r"key 'secrets.vault.address': found nothing"):
        open_secret_stores(without_address)
    monkeypatch.delenv("DRILL_VAULT_TOKEN", raising=False)
    without_token = _load(
        tmp_path,
        '[secrets]\nproviders = ["vault"]\n[secrets.vault]\n'
        'address = "https://vault.example:8200"\ntoken_env = "DRILL_VAULT_TOKEN"\n',
    )
    assert isinstance(without_token, DrillbookConfig)
    with pytest.raises(ConfigError, match="'DRILL_VAULT_TOKEN', which is not set"):
        open_secret_stores(without_token)
    monkeypatch.setenv("DRILL_VAULT_TOKEN", "hvs.from-the-environment")
    stores = open_secret_stores(without_token)
    assert stores.store("vault").location("eleanor/prod/jwt-secret") == (
        "secret/eleanor/prod/jwt-secret"
    )
