"""The reference service's replicas: uvicorn processes app-0..app-N, one port each.

`max_app_replicas` processes are declared so the plan's `kubectl scale` has somewhere to go;
the first `app_replicas` of them run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from drillbook.config.model import StackSettings
from drillbook.config.sections.stack_app import AppSettings
from drillbook.core.contracts import JWT_ENV
from drillbook.platforms.env_overlay import env_file_of
from drillbook.platforms.local import LocalComponent
from drillbook.stack.haproxy_runtime import SOCKET_NAME, in_rotation
from drillbook.stack.launch import launch_command
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 60.0


def app_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "eleanor_reference.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]


# Placeholders of [stack.app] and the stand-in's variable each one reads its value from.
_FROM_APP_ENV = {
    "database_url": "ELEANOR_DATABASE_URL",
    "redis_url": "ELEANOR_CACHE__REDIS_URL",
    "redis_sentinels": "ELEANOR_CACHE__SENTINELS",
    "redis_sentinel_master": "ELEANOR_CACHE__SENTINEL_MASTER",
    "weaviate_url": "WEAVIATE_URL",
    "vault_addr": "VAULT_ADDR",
    "vault_token_file": "ELEANOR_SECURITY__VAULT_TOKEN_FILE",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "aws_region": "AWS_DEFAULT_REGION",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}


def ready_path(settings: StackSettings) -> str:
    """What the proxy checks and a replica's readiness waits for."""
    return settings.app.ready_path if settings.app.is_custom else "/readyz"


def custom_program(ctx: StackContext, app: AppSettings, index: int, port: int) -> Program:
    """One replica of the user's own service ([stack.app]), its placeholders filled in."""
    values = {placeholder: ctx.app_env.get(name, "") for placeholder, name in _FROM_APP_ENV.items()}
    values.update(
        {
            "port": str(port),
            "replica": f"app-{index}",
            "python": app.python or sys.executable,
            "run_dir": str(ctx.run_dir),
            "jwt_secret": ctx.secrets["jwt"],
        }
    )
    return Program(
        group="app",
        name=f"app-{index}",
        command=launch_command(
            [part.format(**values) for part in app.command],
            env_file=env_file_of(ctx.run_dir, "app"),
        ),
        environment={
            **{name: template.format(**values) for name, template in app.environment.items()},
            "PYTHONUNBUFFERED": "1",
        },
        stopsignal=app.stop_signal,
        stopwaitsecs=app.grace_period_seconds,
        directory=app.workdir or str(ctx.run_dir),
    )


class AppService:
    name = "app"

    def layout(self, ctx: StackContext) -> list[Program]:
        programs = []
        for index in range(ctx.settings.max_app_replicas):
            port = ctx.take_port(f"app-{index}")
            if ctx.settings.app.is_custom:
                programs.append(custom_program(ctx, ctx.settings.app, index, port))
                continue
            programs.append(
                Program(
                    group="app",
                    name=f"app-{index}",
                    # Through the launcher, so the plan's `kubectl set env` has a local
                    # equivalent (LocalPlatform.set_env writes the overlay it reads).
                    command=launch_command(
                        app_command(port), env_file=env_file_of(ctx.run_dir, "app")
                    ),
                    environment={
                        **ctx.app_env,
                        JWT_ENV: ctx.secrets["jwt"],
                        "ELEANOR_REPLICA": f"app-{index}",
                        "PYTHONUNBUFFERED": "1",
                    },
                )
            )
        return programs

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        names = [f"app-{i}" for i in range(len(stack.app_ports))]
        return {
            "app": LocalComponent(
                name="app",
                group="app",
                processes=names,
                desired=stack.app_replicas,
                env_file=env_file_of(stack.run_dir, "app"),
                # Ready as the proxy (and a pod's readinessProbe) sees it: /readyz answers 200
                # once the replica holds its JWT secret and has reached its database.
                readiness={
                    name: http_ready(f"http://127.0.0.1:{port}{stack.app_ready_path}")
                    for name, port in zip(names, stack.app_ports, strict=True)
                },
                in_rotation={
                    name: in_rotation(stack.run_dir / SOCKET_NAME, name) for name in names
                },
                # As k8s/base/app.yaml's strategy (maxSurge 1, maxUnavailable 0): a rolling
                # restart never serves with fewer replicas than desired.
                max_surge=1,
                stop_signal=stack.app_stop_signal,
                stop_grace_seconds=stack.app_grace_seconds,
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("app")
        platform.wait_until_ready("app", timeout=START_TIMEOUT_SECONDS)
