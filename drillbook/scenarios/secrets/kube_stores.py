"""The secrets providers a Kubernetes deployment runs itself (platform kubernetes): dev-mode
OpenBao and moto in the cluster (k8s/kind-secrets.yaml), which keep everything in memory like the
Compose project's, so drillbook seeds them and puts them back to that seed after every fault.

A `[secrets.vault]` or `[secrets.aws]` with a `component` (a workload of the target drillbook may
take down) is such a provider (drillbook.scenarios.secrets.stores decides); without one it is a
managed service drillbook only reads and repairs. The seed is the operator's break-glass copy from
drillbook's environment, as on Compose (compose_stores.compose_seed); a production target
(`[allow] production`) is never seeded.

The application's Vault token is the Secret `eleanor-v8-vault-token` (key `token`) beside the
Deployment, mounted where the service re-reads it on every fetch (the Compose project's
vault-agent volume). The kubelet refreshes a mounted Secret only on its periodic pod sync (about
a minute), so after writing it drillbook annotates the application's pods: a pod update makes
the kubelet sync that pod, and its volumes, at once.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from drillbook.core.redaction import register_secret
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.scenarios.secrets.compose_stores import compose_seed, deployed_aws, deployed_vault
from drillbook.secrets.store import AppAccess, SecretPaths, SecretStore

if TYPE_CHECKING:
    from drillbook.config.model import DrillbookConfig

APP_COMPONENT = "app"
TOKEN_SECRET = "eleanor-v8-vault-token"
TOKEN_KEY = "token"
TOKEN_MOUNT = Path("/run/vault-agent") / TOKEN_KEY
"""Where the Deployment mounts the Secret (deploy/kind/overlay): shown in reports only."""
SYNC_ANNOTATION = "drillbook.dev/vault-token-written-at"
"""Set on the application's pods after the token Secret changes, so the kubelet syncs them now."""


@dataclass
class SecretAppAccess(AppAccess):
    """The application's Vault token as a Kubernetes Secret mounted into its pods."""

    platform: Any = field(default=None, repr=False)
    component: str = APP_COMPONENT
    secret: str = TOKEN_SECRET

    @property
    def _namespace(self) -> str:
        return str(self.platform.component(self.component).namespace)

    def current(self) -> str | None:
        try:
            data = self.platform.core.read_namespaced_secret(self.secret, self._namespace).data
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        raw = (data or {}).get(TOKEN_KEY)
        if not raw:
            return None
        token = base64.b64decode(raw).decode("utf-8").strip()
        register_secret(token)
        return token or None

    def reissue(self) -> None:
        token = self.admin.issue_token(self.policy)
        register_secret(token)
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=self.secret,
                namespace=self._namespace,
                labels={"app": "eleanor-v8", "drillbook.dev/written-by": "drillbook"},
            ),
            string_data={TOKEN_KEY: token},
            type="Opaque",
        )
        core = self.platform.core
        try:
            core.replace_namespaced_secret(self.secret, self._namespace, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            core.create_namespaced_secret(self._namespace, body)
        self._sync_pods()

    def _sync_pods(self) -> None:
        """Annotate the application's pods: the kubelet syncs an updated pod at once, and with
        it the Secret volume, instead of on its next periodic sync."""
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        patch = {"metadata": {"annotations": {SYNC_ANNOTATION: stamp}}}
        for pod in self.platform.pods(self.component):
            name = str(pod["metadata"]["name"])
            try:
                self.platform.core.patch_namespaced_pod(name, self._namespace, patch)
            except ApiException as exc:
                if exc.status != 404:  # a pod that went away meanwhile mounts the new Secret
                    raise


def kube_store(
    name: str, config: DrillbookConfig, paths: SecretPaths, platform: object
) -> SecretStore:
    """One in-cluster provider with its seed; seeded before the application is pointed at it
    (drillbook.scenarios.secrets.pointing) and by every undo that reseeds it."""
    if not isinstance(platform, KubernetesPlatform):
        raise InvalidDrill("the cluster's own secrets providers need platform kubernetes")
    if config.allow.production:
        raise InvalidDrill(
            f"{config.source}: the secrets drill seeds the deployment's own providers from "
            "drillbook's environment; refused on a production target ([allow] production)"
        )
    settings = config.secrets
    seed = compose_seed(config, paths)
    if name == "vault":
        provider = deployed_vault(
            config, token_from="drill.env's OPENBAO_ROOT_TOKEN, written by kind-up.sh"
        )
        access = SecretAppAccess(provider, TOKEN_MOUNT, platform=platform)
        return SecretStore(
            provider, paths, component=settings.vault.component, access=access, seed=seed
        )
    return SecretStore(deployed_aws(config), paths, component=settings.aws.component, seed=seed)
