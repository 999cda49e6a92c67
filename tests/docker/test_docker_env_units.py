"""Fast checks of the Compose env override (drillbook.platforms.docker_env) and of the Vault
token archive the secrets drill writes into the app's volume, beside the integration test
(test_secrets_on_compose.py) that runs them on the reference project. The merge itself is
checked with the real `docker compose config` (no engine needed): what Compose would create."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from drillbook.errors import FaultFailed
from drillbook.platforms.docker_compose import ComposeProject
from drillbook.platforms.docker_env import ComposeEnv, override_path, read_overlays
from drillbook.scenarios.secrets.compose_stores import TOKEN_FILE, token_archive
from tests.docker.engine import COMPOSE_FILE, PROJECT, ROOT

BASE = ComposeProject(name=PROJECT, files=(str(COMPOSE_FILE),), workdir=str(COMPOSE_FILE.parent))


def _env(tmp_path: Path) -> ComposeEnv:
    return ComposeEnv(override_path(tmp_path / "eleanor-abc.jsonl"), BASE)


def test_without_an_override_compose_gets_the_project_file_alone(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env.project() == BASE
    assert env.overlay("app") == {}
    env.reset("app")  # nothing set: nothing to do, and no file made
    assert not env.path.exists()


def test_an_override_is_owner_only_named_in_every_compose_call_and_read_back(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    previous = env.set("app", {"ELEANOR_SECURITY__SECRET_PROVIDER": "vault", "JWT_SECRET": None})
    assert previous == {"ELEANOR_SECURITY__SECRET_PROVIDER": None, "JWT_SECRET": None}
    assert env.path.name == "eleanor-abc.env-override.yaml"
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o600
    assert env.project().files == (str(COMPOSE_FILE), str(env.path))
    assert "-f" in env.project().command("ps") and str(env.path) in env.project().command("ps")
    assert env.overlay("app") == {"ELEANOR_SECURITY__SECRET_PROVIDER": "vault", "JWT_SECRET": None}
    previous = env.set("app", {"ELEANOR_SECURITY__SECRET_PROVIDER": "env", "JWT_SECRET": "s"})
    assert previous == {"ELEANOR_SECURITY__SECRET_PROVIDER": "vault", "JWT_SECRET": None}


def test_reset_drops_one_service_and_the_file_with_the_last(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env.set("app", {"A": "1"})
    env.set("worker", {"B": None})
    env.reset("app")
    assert read_overlays(env.path) == {"worker": {"B": None}}
    env.reset("worker")
    assert not env.path.exists()
    assert env.project() == BASE


def test_a_file_drillbook_did_not_write_is_refused_not_taken_for_no_override(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    env.path.write_text(json.dumps({"services": {"app": {"environment": {"A": "1"}}}}))
    with pytest.raises(FaultFailed, match="not an env override drillbook wrote"):
        env.overlay("app")


def test_compose_merges_the_override_into_the_deployed_environment(tmp_path: Path) -> None:
    """What `docker compose up` would create: the asked variables over the file's, a removed
    one empty, every other variable of the service as deployed."""
    env = _env(tmp_path)
    env.set("app", {"ELEANOR_SECURITY__SECRET_PROVIDER": "vault", "JWT_SECRET": None})
    result = subprocess.run(
        env.project().command("config", "--format", "json", "app"),
        cwd=ROOT,
        env={**os.environ, "ELEANOR_JWT_SECRET": "deployed"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)["services"]["app"]["environment"]
    assert merged["ELEANOR_SECURITY__SECRET_PROVIDER"] == "vault"
    assert merged["JWT_SECRET"] == ""
    assert merged["VAULT_ADDR"] == "http://openbao:8200"
    env.reset("app")
    result = subprocess.run(
        env.project().command("config", "--format", "json", "app"),
        cwd=ROOT,
        env={**os.environ, "ELEANOR_JWT_SECRET": "deployed"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    deployed = json.loads(result.stdout)["services"]["app"]["environment"]
    assert deployed["ELEANOR_SECURITY__SECRET_PROVIDER"] == "env"
    assert deployed["JWT_SECRET"] == "deployed"


def test_the_token_archive_is_the_services_own_and_readable_by_it_alone() -> None:
    archive = token_archive("hvs.token", 10001)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (member,) = tar.getmembers()
        extracted = tar.extractfile(member)
        assert extracted is not None
        content = extracted.read()
    assert member.name == TOKEN_FILE
    assert (member.uid, member.gid, member.mode) == (10001, 10001, 0o400)
    assert content == b"hvs.token"
