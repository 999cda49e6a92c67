"""[stack.app]: the user's own service on the embedded stack. Its configuration is checked
before anything starts (one message naming the key), its replicas are rendered with the stack's
addresses in the service's own variable names, and drills of dependencies it does not use are
reported as not applicable."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from drillbook.errors import ConfigError
from drillbook.stack.layout import render_haproxy_conf, render_supervisord_conf
from drillbook.stack.services.app import AppService, ready_path
from drillbook.stack.services.base import StackContext
from fixtures.components import not_applicable

COMMAND = ["{python}", "-m", "uvicorn", "notes:app", "--port", "{port}"]


def _config(**app: object) -> DrillbookConfig:
    return load_config(None, overrides={f"stack.app.{k}": v for k, v in app.items()})


def _refused(**app: object) -> str:
    with pytest.raises(ConfigError) as info:
        _config(**app)
    return str(info.value)


def test_a_command_without_the_port_placeholder_is_refused() -> None:
    message = _refused(command=["python", "-m", "notes"])
    assert "key 'stack.app.command'" in message and '"{port}"' in message


def test_an_unknown_placeholder_is_refused_naming_it() -> None:
    message = _refused(command=[*COMMAND, "{db}"])
    assert "stack.app.command[6]" in message and "unknown: {db}" in message
    message = _refused(command=COMMAND, environment={"DB": "{database}"})
    assert "stack.app.environment.DB" in message and "unknown: {database}" in message


def test_unbalanced_braces_and_bad_names_are_refused() -> None:
    assert "balanced" in _refused(command=COMMAND, environment={"DB": "{database_url"})
    assert "environment variable name" in _refused(command=COMMAND, environment={"1DB": "x"})
    assert "names among" in _refused(command=COMMAND, uses=["database", "queue"])
    assert 'starting with "/"' in _refused(command=COMMAND, ready_path="health")


def test_the_replicas_get_the_stacks_addresses_in_the_services_own_names(tmp_path: Path) -> None:
    config = _config(
        command=COMMAND,
        environment={"NOTES_DB": "{database_url}", "NOTES_SENTINELS": "{redis_sentinels}"},
        stop_signal="INT",
        grace_period="3s",
        workdir=str(tmp_path),
        python="/opt/venv/bin/python",
    )
    ports = iter(range(20000, 20100))
    taken: dict[str, int] = {}

    def take_port(name: str) -> int:
        return taken.setdefault(name, next(ports))

    ctx = StackContext(run_dir=tmp_path, settings=config.stack, take_port=take_port, ports=taken)
    ctx.secrets["jwt"] = "s3cret"
    ctx.app_env.update(
        {
            "ELEANOR_DATABASE_URL": "postgresql://eleanor@127.0.0.1:5999/eleanor_v8",
            "ELEANOR_CACHE__SENTINELS": "127.0.0.1:26379,127.0.0.1:26380",
        }
    )
    programs = AppService().layout(ctx)
    first = programs[0]
    assert first.command[-6:] == [
        "/opt/venv/bin/python",
        "-m",
        "uvicorn",
        "notes:app",
        "--port",
        str(taken["app-0"]),
    ]
    assert first.environment is not None
    assert first.environment["NOTES_DB"] == "postgresql://eleanor@127.0.0.1:5999/eleanor_v8"
    assert first.environment["NOTES_SENTINELS"] == "127.0.0.1:26379,127.0.0.1:26380"
    conf = render_supervisord_conf(tmp_path, programs)
    assert "stopsignal=INT" in conf and "stopwaitsecs=3" in conf
    assert f"directory={tmp_path}" in conf
    assert ready_path(config.stack) == "/health"
    haproxy = render_haproxy_conf(8080, [taken["app-0"]], check_path=ready_path(config.stack))
    assert "option httpchk GET /health" in haproxy


def test_the_stand_in_keeps_its_own_readiness_path() -> None:
    assert ready_path(load_config(None).stack) == "/readyz"


def test_drills_of_unused_dependencies_are_not_applicable() -> None:
    config = _config(command=COMMAND, uses=["database", "cache"])
    assert not_applicable(config, "database-failure") is None
    assert not_applicable(config, "application-failure") is None
    reason = not_applicable(config, "vector-database-failure")
    assert reason is not None and reason.startswith("not applicable:")
    assert "vector_store" in reason
    assert not_applicable(config, "secrets-management-failure") is not None
    # The stand-in uses everything: nothing is skipped for it.
    assert not_applicable(load_config(None), "vector-database-failure") is None
