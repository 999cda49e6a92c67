"""Redis in the embedded stack: the reference service's cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from drillbook.platforms.local import LocalComponent
from drillbook.stack.binaries import require_binary
from drillbook.stack.layout import Program
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0


def redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


class RedisService:
    name = "redis"

    def layout(self, ctx: StackContext) -> list[Program]:
        server = require_binary("redis-server")
        port = ctx.take_port("redis")
        data = ctx.run_dir / "redis"
        data.mkdir(exist_ok=True)
        ctx.app_env["ELEANOR_CACHE__REDIS_URL"] = redis_url(port)
        return [
            Program(
                group="redis",
                name="redis-0",
                command=[
                    str(server),
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(data),
                ],
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "cache": LocalComponent(
                name="cache",
                group="redis",
                processes=["redis-0"],
                desired=1,
                readiness={"redis-0": redis_ready(redis_url(stack.port("redis")))},
            )
        }

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("cache")
        platform.wait_until_ready("cache", timeout=START_TIMEOUT_SECONDS)


def redis_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    return check
