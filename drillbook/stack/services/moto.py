"""moto server in the embedded stack: the AWS API (S3 for backups, Secrets Manager for secrets).

In production these are the real AWS endpoints reached through boto3; here one moto server on
loopback answers for both, so the same boto3 code paths run for real.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.platforms.local import LocalComponent
from drillbook.stack.binaries import require_binary
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0
REGION = "us-east-1"
# moto accepts any credentials; fixed dummy values keep boto3 from looking for real ones.
ACCESS_KEY_ID = "drillbook-local"
SECRET_ACCESS_KEY = "drillbook-local-secret"


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def aws_env(port: int) -> dict[str, str]:
    """What a boto3 client in the stack needs to talk to moto instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url(port),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


def _moto_server() -> Path:
    """moto's server beside this interpreter (the venv's), else on PATH."""
    return require_binary("moto_server", first=[Path(sys.executable).parent])


class MotoService:
    name = "aws"

    def layout(self, ctx: StackContext) -> list[Program]:
        port = ctx.take_port("aws")
        ctx.app_env.update(aws_env(port))
        return [
            Program(
                group="aws",
                name="moto-0",
                command=[str(_moto_server()), "-H", "127.0.0.1", "-p", str(port)],
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        url = endpoint_url(stack.port("aws"))
        return {
            "aws": LocalComponent(
                name="aws",
                group="aws",
                processes=["moto-0"],
                desired=1,
                readiness={"moto-0": http_ready(f"{url}/moto-api/")},
            )
        }

    independent_start = True
    """Its start needs only supervisord: it runs beside the other data services' starts."""

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("aws")
        platform.wait_until_ready("aws", timeout=START_TIMEOUT_SECONDS)
