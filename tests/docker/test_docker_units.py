"""Fast checks of the Docker platform's pure parts and messages, beside the integration tests
in this folder that drive a real engine: the configuration's rules for platform "docker", the
allow-list refusal, the engine's timestamps, the Compose command, and the message when no
engine answers (a real connection attempt to a socket that does not exist)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.sections.allow import AllowSettings, refuse_unlisted_service
from drillbook.errors import ConfigError, NotAllowed, TargetUnreachable
from drillbook.platforms.docker import _timestamp
from drillbook.platforms.docker_compose import ComposeProject
from drillbook.platforms.docker_engine import connect
from tests.docker.engine import CONFIG

BASE = """
platform = "docker"
[target]
base_url = "http://127.0.0.1:17080"
[[target.probes]]
name = "health"
path = "/health"
"""


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_the_shipped_compose_configuration_loads() -> None:
    config = load_config(CONFIG)
    assert config.platform == "docker"
    assert config.docker.project == "eleanor"
    assert {c.compose_service for c in config.target.components.values()} == {
        "app",
        "postgres",
        "redis",
        "weaviate",
        "openbao",
        "s3",
    }


def test_the_project_must_be_named(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + '[allow]\ncompose_services = ["x/app"]\n')
    assert "key 'docker.project': found nothing" in message
    assert "docker compose ls" in message


def test_a_component_needs_its_compose_service(tmp_path: Path) -> None:
    text = BASE + (
        '[docker]\nproject = "x"\n[allow]\ncompose_services = ["x/app"]\n'
        '[target.components.app]\nrole = "app"\n'
    )
    message = _error(tmp_path, text)
    assert "key 'target.components.app.compose_service': found nothing" in message


def test_every_component_must_be_on_the_allow_list(tmp_path: Path) -> None:
    text = BASE + (
        '[docker]\nproject = "x"\n[allow]\ncompose_services = ["x/app"]\n'
        '[target.components.database]\nrole = "database"\ncompose_service = "postgres"\n'
    )
    message = _error(tmp_path, text)
    assert "key 'target.components.database.compose_service': found 'postgres'" in message
    assert 'add "x/postgres" to allow.compose_services' in message


def test_the_allow_list_is_required_on_docker(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + '[docker]\nproject = "x"\n')
    assert "key 'allow.compose_services': found nothing" in message


def test_an_unlisted_service_is_refused() -> None:
    allowed = AllowSettings(declared=True, compose_services=("eleanor/app",))
    refuse_unlisted_service(allowed, "eleanor", "app")
    with pytest.raises(NotAllowed, match=re.escape("'other/app' is not in allow.compose_services")):
        refuse_unlisted_service(allowed, "other", "app")


def test_engine_times_with_nanoseconds_are_read() -> None:
    assert _timestamp("2026-12-06T11:23:46.123456789Z") == pytest.approx(1796556226.123456)
    assert _timestamp("2026-12-06T11:23:46Z") == pytest.approx(1796556226.0)
    assert _timestamp("0001-01-01T00:00:00Z") is None
    assert _timestamp("") is None


def test_the_compose_command_names_the_project_and_its_file() -> None:
    project = ComposeProject(name="eleanor", files=("/srv/a.yaml", "/srv/b.yaml"))
    argv = project.command("up", "-d")
    assert argv[1:] == [
        "compose",
        "-p",
        "eleanor",
        "-f",
        "/srv/a.yaml",
        "-f",
        "/srv/b.yaml",
        "up",
        "-d",
    ]


def test_no_engine_names_the_socket_and_how_to_start_one(tmp_path: Path) -> None:
    socket = tmp_path / "docker.sock"
    with pytest.raises(TargetUnreachable) as info:
        connect(f"unix://{socket}", timeout=2)
    message = str(info.value)
    assert f"no Docker engine answers at unix://{socket}" in message
    assert f"socket {socket} does not exist" in message
    assert "bash scripts/docker-up.sh" in message
