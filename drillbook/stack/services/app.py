"""The reference service's replicas: uvicorn processes app-0..app-N, one port each.

`max_app_replicas` processes are declared so the plan's `kubectl scale` has somewhere to go;
the first `app_replicas` of them run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

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


class AppService:
    name = "app"

    def layout(self, ctx: StackContext) -> list[Program]:
        programs = []
        for index in range(ctx.settings.max_app_replicas):
            port = ctx.take_port(f"app-{index}")
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
                    name: http_ready(f"http://127.0.0.1:{port}/readyz")
                    for name, port in zip(names, stack.app_ports, strict=True)
                },
                in_rotation={
                    name: in_rotation(stack.run_dir / SOCKET_NAME, name) for name in names
                },
                # As k8s/base/app.yaml's strategy (maxSurge 1, maxUnavailable 0): a rolling
                # restart never serves with fewer replicas than desired.
                max_surge=1,
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("app")
        platform.wait_until_ready("app", timeout=START_TIMEOUT_SECONDS)
