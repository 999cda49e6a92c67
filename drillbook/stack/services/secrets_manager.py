"""AWS Secrets Manager in the embedded stack: a moto server of its own.

On AWS, Secrets Manager and S3 are separate services behind separate endpoints; so here: the
secrets drill takes this endpoint down without touching the S3 that database backups live in
(the `aws` moto server). The replicas reach it through boto3's per-service endpoint variable
`AWS_ENDPOINT_URL_SECRETS_MANAGER`. moto keeps state in memory: once up it is seeded with the
application's secrets, and the drill's recovery seeds a restarted one again, standing in for
the durability of the real service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.platforms.local import LocalComponent
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.app_secrets import ensure_app_secrets
from drillbook.stack.services.base import StackContext
from drillbook.stack.services.moto import _moto_server, aws_env

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0
COMPONENT = "secrets-manager"


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class SecretsManagerService:
    name = COMPONENT

    def layout(self, ctx: StackContext) -> list[Program]:
        port = ctx.take_port(COMPONENT)
        ensure_app_secrets(ctx)
        # Region and (dummy) credentials as the `aws` service gives them, for a stack without it.
        for name, value in aws_env(port).items():
            if name != "AWS_ENDPOINT_URL":
                ctx.app_env.setdefault(name, value)
        ctx.app_env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = endpoint_url(port)
        return [
            Program(
                group=COMPONENT,
                name="moto-secrets-0",
                command=[str(_moto_server()), "-H", "127.0.0.1", "-p", str(port)],
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        url = endpoint_url(stack.port(COMPONENT))
        return {
            COMPONENT: LocalComponent(
                name=COMPONENT,
                group=COMPONENT,
                processes=["moto-secrets-0"],
                desired=1,
                readiness={"moto-secrets-0": http_ready(f"{url}/moto-api/")},
            )
        }

    independent_start = True
    """Its start needs only supervisord: it runs beside the other data services' starts."""

    def start(self, stack: LocalStack) -> None:
        from drillbook.stack.secret_stores import embedded_store

        platform = stack.platform()
        platform.start(COMPONENT)
        platform.wait_until_ready(COMPONENT, timeout=START_TIMEOUT_SECONDS)
        embedded_store(stack, "aws").seed_state()
