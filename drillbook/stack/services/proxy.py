"""HAProxy in front of the replicas, playing the Kubernetes Service users reach."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.platforms.local import LocalComponent
from drillbook.stack.binaries import require_binary
from drillbook.stack.haproxy_runtime import SOCKET_NAME
from drillbook.stack.layout import Program, render_haproxy_conf
from drillbook.stack.probing import http_ready
from drillbook.stack.services.app import ready_path
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0


class ProxyService:
    name = "proxy"

    def layout(self, ctx: StackContext) -> list[Program]:
        haproxy = require_binary("haproxy")
        port = ctx.take_port("proxy")
        app_ports = [ctx.take_port(f"app-{i}") for i in range(ctx.settings.max_app_replicas)]
        config = ctx.run_dir / "haproxy.cfg"
        socket = ctx.run_dir / SOCKET_NAME
        config.write_text(
            render_haproxy_conf(
                port, app_ports, stats_socket=socket, check_path=ready_path(ctx.settings)
            )
        )
        return [
            Program(
                group="proxy",
                name="haproxy-0",
                command=[str(haproxy), "-f", str(config), "-db"],
                stopsignal="USR1",
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "proxy": LocalComponent(
                name="proxy",
                group="proxy",
                processes=["haproxy-0"],
                desired=1,
                readiness={"haproxy-0": http_ready(f"{stack.base_url}{stack.proxy_ready_path}")},
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("proxy")
        platform.wait_until_ready("proxy", timeout=START_TIMEOUT_SECONDS)
