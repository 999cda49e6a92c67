"""The secrets providers of a Compose project (platform docker) as stores: its OpenBao (dev mode)
and its moto server (Secrets Manager), which keep everything in memory like the embedded
stack's, so drillbook seeds them and puts them back to that seed after every fault.

The seed is the operator's break-glass copy, from drillbook's environment: the JWT secret in the
variable the probes sign with ([target.auth] secret_env, ELEANOR_JWT_SECRET on the reference
project, which its app also gets as its deployed JWT_SECRET) and the LLM API key in
ELEANOR_LLM_API_KEY. A restarted provider is therefore seeded with the same values every time,
also by a later run's `drillbook undo`, and nothing drillbook invents has to be kept on disk.

The application's Vault token lives in the Compose volume `vault-agent` of the app component,
file `token` (a Vault Agent sink; the service re-reads it on every fetch): drillbook writes it
there through the engine, owned by the user the service runs as and readable by it alone, and
revokes and re-issues it as the plan does. A project without that volume has no access drill.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.core.contracts import API_KEY_ENV
from drillbook.core.redaction import register_secret
from drillbook.errors import DrillError, InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_files import content_of
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.store import AppAccess, SecretPaths, SecretStore
from drillbook.secrets.vault import VaultKvProvider

if TYPE_CHECKING:
    from drillbook.config.model import DrillbookConfig

APP_COMPONENT = "app"
TOKEN_VOLUME = "vault-agent"
TOKEN_FILE = "token"
MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""moto accepts any credentials; used where drillbook's environment names none."""


def deployed_vault(config: DrillbookConfig, *, token_from: str) -> VaultKvProvider:
    """The deployment's own OpenBao, with the root token from drillbook's environment
    ([secrets.vault] token_env; `token_from` tells the operator where that token comes from)."""
    vault = config.secrets.vault
    token = os.environ.get(vault.token_env, "")
    if vault.address is None or not token:
        raise InvalidDrill(
            f"{config.source}: [secrets.vault] needs address and the root token in "
            f"${vault.token_env} ({token_from})"
        )
    register_secret(token)
    return VaultKvProvider(vault.address, token, mount=vault.mount, field=vault.field)


def deployed_aws(config: DrillbookConfig) -> AwsSecretsManagerProvider:
    """The deployment's own Secrets Manager (moto), with drillbook's AWS credentials when its
    environment names some, else moto's any-will-do ones."""
    aws = config.secrets.aws
    credentials = None if os.environ.get("AWS_ACCESS_KEY_ID") else MOTO_CREDENTIALS
    return AwsSecretsManagerProvider(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        recovery_window_days=aws.recovery_window_days,
        credentials=credentials,
    )


def compose_seed(config: DrillbookConfig, paths: SecretPaths) -> dict[str, str]:
    """path -> value from the operator's break-glass copy in drillbook's environment."""
    wanted = {paths.jwt_secret: config.target.auth.secret_env, paths.api_key: API_KEY_ENV}
    missing = [name for name in wanted.values() if not os.environ.get(name)]
    if missing:
        raise InvalidDrill(
            f"the secrets drill on platform docker seeds the project's providers from "
            f"drillbook's environment (the break-glass copy): export {', '.join(missing)} as "
            "the project was brought up with (deploy/compose/README.md)"
        )
    seed = {path: os.environ[name] for path, name in wanted.items()}
    for value in seed.values():
        register_secret(value)
    return seed


@dataclass
class VolumeAppAccess(AppAccess):
    """The application's Vault token as a file in one of its Compose volumes."""

    platform: Any = field(default=None, repr=False)
    component: str = APP_COMPONENT
    volume: str = TOKEN_VOLUME

    def current(self) -> str | None:
        archive = self.platform.read_volume_file(self.component, self.volume, TOKEN_FILE)
        if archive is None:
            return None
        token = content_of(archive).decode("utf-8").strip()
        register_secret(token)
        return token or None

    def reissue(self) -> None:
        token = self.admin.issue_token(self.policy)
        register_secret(token)
        archive = token_archive(token, _service_uid(self.platform, self.component))
        self.platform.write_volume_file(self.component, self.volume, TOKEN_FILE, archive)


def token_archive(token: str, uid: int) -> bytes:
    """The token as a one-member archive: owned by the service's user, mode 0400."""
    data = token.encode("utf-8")
    member = tarfile.TarInfo(TOKEN_FILE)
    member.size = len(data)
    member.mode = 0o400
    member.uid = member.gid = uid
    member.mtime = int(time.time())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(member, io.BytesIO(data))
    return out.getvalue()


def _service_uid(platform: DockerPlatform, component: str) -> int:
    """The numeric user the service's containers run as (0 for root or a user by name)."""
    containers = platform.containers(component)
    user = str(containers[0].attrs.get("Config", {}).get("User") or "0") if containers else "0"
    uid = user.split(":", 1)[0]
    return int(uid) if uid.isdigit() else 0


def _has_token_volume(platform: DockerPlatform) -> bool:
    try:
        platform.volume_of(APP_COMPONENT, TOKEN_VOLUME)
    except DrillError:
        return False
    return True


def compose_store(
    name: str, config: DrillbookConfig, paths: SecretPaths, platform: object
) -> SecretStore:
    """One provider of the Compose project with its seed; seeded before the application is
    pointed at it (drillbook.scenarios.secrets.pointing) and by every undo that reseeds it."""
    if not isinstance(platform, DockerPlatform):
        raise InvalidDrill("the Compose project's secrets providers need platform docker")
    settings = config.secrets
    seed = compose_seed(config, paths)
    if name == "vault":
        vault = settings.vault
        provider = deployed_vault(config, token_from="the project's OPENBAO_ROOT_TOKEN")
        access = (
            VolumeAppAccess(provider, Path(TOKEN_VOLUME) / TOKEN_FILE, platform=platform)
            if _has_token_volume(platform)
            else None
        )
        store = SecretStore(provider, paths, component=vault.component, access=access, seed=seed)
    elif name == "aws":
        store = SecretStore(
            deployed_aws(config), paths, component=settings.aws.component, seed=seed
        )
    else:
        raise InvalidDrill(f"the Compose project runs no secrets provider '{name}'")
    return store
