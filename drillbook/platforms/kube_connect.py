"""Connecting to a Kubernetes cluster by kubeconfig and context, with one clear error per mistake.

A wrong context name, a missing kubeconfig or a cluster that does not answer are each reported
before anything is injected, naming what was looked at and how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3Error

from drillbook.errors import ConfigError, TargetUnreachable

_DEFAULT_KUBECONFIG = Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class KubeConnection:
    """An API client bound to one context of one kubeconfig."""

    api: client.ApiClient
    context: str
    server: str
    kubeconfig: str
    request_timeout: float

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]


def kubeconfig_path(configured: str | None) -> str:
    """The kubeconfig to read: the configured path, else $KUBECONFIG, else ~/.kube/config."""
    if configured:
        return os.path.expanduser(configured)
    from_env = os.environ.get("KUBECONFIG", "")
    # KUBECONFIG may list several files; the first one that exists is the one kubectl starts with.
    for candidate in from_env.split(os.pathsep):
        if candidate and Path(candidate).exists():
            return candidate
    return str(_DEFAULT_KUBECONFIG)


def list_contexts(kubeconfig: str) -> tuple[list[str], str | None]:
    """The context names of a kubeconfig and its current context."""
    if not Path(kubeconfig).is_file():
        raise ConfigError(
            f"kubeconfig '{kubeconfig}' not found; set kubernetes.kubeconfig in the drillbook "
            "configuration, or export KUBECONFIG (kind writes one: kind get kubeconfig)"
        )
    try:
        contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except ConfigException as exc:
        raise ConfigError(f"kubeconfig '{kubeconfig}' cannot be used: {exc}") from None
    names = [str(c["name"]) for c in contexts]
    return names, (str(active["name"]) if active else None)


def connect(
    kubeconfig: str | None,
    context: str | None,
    *,
    request_timeout: float = 10.0,
    check: bool = True,
) -> KubeConnection:
    """An API client for `context` (None: the current context); checks the server answers."""
    path = kubeconfig_path(kubeconfig)
    names, current = list_contexts(path)
    chosen = context or current
    if chosen is None:
        raise ConfigError(
            f"kubeconfig '{path}' has no current context and kubernetes.context is not set; "
            f"set kubernetes.context to one of: {', '.join(names) or 'none'}"
        )
    if chosen not in names:
        raise ConfigError(
            f"kube context '{chosen}' is not in kubeconfig '{path}' (it has: "
            f"{', '.join(names) or 'none'}); set kubernetes.context (or kubernetes.dr_context) "
            "to one of those, or add the context: kubectl config get-contexts"
        )
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=chosen,
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as exc:
        raise ConfigError(f"kube context '{chosen}' in '{path}' cannot be used: {exc}") from None
    # urllib3 retries a refused connection three times by default; a drill wants to know now.
    configuration.retries = 1
    api = client.ApiClient(configuration)
    connection = KubeConnection(
        api=api,
        context=chosen,
        server=str(configuration.host),
        kubeconfig=path,
        request_timeout=request_timeout,
    )
    if check:
        try:
            client.VersionApi(api).get_code(_request_timeout=min(request_timeout, 5.0))
        except (Urllib3Error, OSError) as exc:
            api.close()  # type: ignore[no-untyped-call]
            raise TargetUnreachable(
                f"the Kubernetes API server of kube context '{chosen}' ({connection.server}) "
                f"cannot be reached: {type(exc).__name__}: {_short(exc)}. Fix: start the "
                "cluster (kind create cluster ...) or correct the server in the kubeconfig; "
                "`kubectl --context " + chosen + " cluster-info` shows the same problem"
            ) from None
        except client.ApiException as exc:
            if exc.status in (401, 403):
                # /version is normally open to everyone; a refusal here still means the server
                # answers, and the real calls will say precisely what is refused.
                pass
            else:
                api.close()  # type: ignore[no-untyped-call]
                raise TargetUnreachable(
                    f"the Kubernetes API server of kube context '{chosen}' ({connection.server}) "
                    f"answered /version with HTTP {exc.status}: {exc.reason}"
                ) from None
    return connection


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
