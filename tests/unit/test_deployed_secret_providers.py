"""The deployment's own secrets providers, as the Compose and the kind secrets drills both build
them (drillbook.scenarios.secrets.compose_stores): the root token's absence is named with where
the token comes from, and moto gets its any-will-do credentials only when none are exported.
The providers' behaviour against real OpenBao and moto is tested in tests/docker and tests/kind."""

from __future__ import annotations

import dataclasses

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from drillbook.errors import InvalidDrill
from drillbook.scenarios.secrets.compose_stores import (
    MOTO_CREDENTIALS,
    deployed_aws,
    deployed_vault,
)

TOKEN_ENV = "DRILLBOOK_TEST_ROOT_TOKEN"


def _config(address: str | None) -> DrillbookConfig:
    config = load_config(None)
    vault = dataclasses.replace(config.secrets.vault, address=address, token_env=TOKEN_ENV)
    aws = dataclasses.replace(config.secrets.aws, endpoint_url="http://127.0.0.1:15200")
    return dataclasses.replace(
        config, secrets=dataclasses.replace(config.secrets, vault=vault, aws=aws)
    )


def test_a_missing_root_token_names_its_variable_and_where_it_comes_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(InvalidDrill) as raised:
        deployed_vault(_config("http://127.0.0.1:18200"), token_from="kind-up.sh's drill.env")
    assert f"${TOKEN_ENV}" in str(raised.value)
    assert "kind-up.sh's drill.env" in str(raised.value)


def test_a_vault_without_address_is_refused_even_with_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "root-token-for-the-test")
    with pytest.raises(InvalidDrill, match="needs address"):
        deployed_vault(_config(None), token_from="the project")


def test_the_vault_provider_is_the_configured_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "root-token-for-the-test")
    provider = deployed_vault(_config("http://127.0.0.1:18200/"), token_from="the project")
    assert provider.address == "http://127.0.0.1:18200"


def test_moto_credentials_only_when_none_are_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    provider = deployed_aws(_config(None))
    assert provider.endpoint_url == "http://127.0.0.1:15200"
    assert provider._credentials == MOTO_CREDENTIALS
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXPORTED")
    assert deployed_aws(_config(None))._credentials == {}
