"""The `[allow]` table: what drills may fault, declared by name, and whether it is production.

A drill kills, scales, stops and restores. A label such as `target.environment` says what a
target is called, not what it is, and a kube context name can point at any cluster. So the
file declares, in one place, the clusters (each context with its API server), namespaces and
workloads (Kubernetes), supervisor groups (the embedded stack, the local platform) and Compose
services that drills may touch, and whether they are production. Everything else is refused
before a fault is injected. On Kubernetes the list is required; the embedded stack is
drillbook's own, so there an absent list allows every group of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Bool, Context, Name, TableArray, TextList, Url, build, setting
from drillbook.errors import NotAllowed

__all__ = [
    "AllowSettings",
    "AllowedContext",
    "parse",
    "refuse_unlisted_group",
    "refuse_unlisted_server",
    "refuse_unlisted_service",
    "refuse_unlisted_workload",
]


@dataclass(frozen=True)
class AllowedContext:
    """A kube context drills may use, with the API server it must point at."""

    name: str = field(default="", metadata=setting(Name(), "The kube context's name."))
    api_server: str = field(
        default="",
        metadata=setting(
            Url(),
            "The API server the context must point at (its kubeconfig cluster's `server`); a "
            "context that points elsewhere is refused. Not set: the name alone is checked.",
        ),
    )


@dataclass(frozen=True)
class AllowSettings:
    """What drills may fault; anything not listed is refused before injection."""

    declared: bool = False
    """The file has an [allow] table (not a key: set by the parser)."""
    production: bool = field(
        default=False,
        metadata=setting(
            Bool(),
            "This target is production: drills then need the explicit confirmation "
            "`allow_production = true` (or --drillbook-allow-production), whatever the "
            "target's names say.",
        ),
    )
    contexts: tuple[AllowedContext, ...] = field(
        default=(),
        metadata=setting(
            TableArray(AllowedContext),
            "Kube contexts drills may use ([[allow.contexts]]: name, api_server); required "
            'on platform "kubernetes" (kubernetes.context and dr_context must be listed).',
        ),
    )
    namespaces: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            'Namespaces whose workloads may be faulted; required on platform "kubernetes".',
        ),
    )
    workloads: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            'Kubernetes workloads that may be faulted, as "kind/name" (e.g. '
            '"deployment/eleanor-v8"); empty: every workload in the allowed namespaces.',
        ),
    )
    supervisor_groups: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            "Supervisor groups of the embedded stack that may be faulted; empty: all of them "
            "(the stack is drillbook's own).",
        ),
    )
    compose_services: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            'Docker Compose services that may be faulted, as "project/service"; required on '
            'platform "docker" (every component\'s docker.project/compose_service listed).',
        ),
    )


def parse(context: Context, table: dict[str, Any] | None) -> AllowSettings:
    """The [allow] table; None when the file has none."""
    if table is None:
        return AllowSettings()
    return build(context, "allow", table, AllowSettings, declared=True)


def refuse_unlisted_server(allowed: AllowSettings, context: str, server: str) -> None:
    """The kube context must point at the API server the allow-list names for it (when it
    names one): a context renamed or re-pointed at another cluster is refused."""
    for entry in allowed.contexts:
        if entry.name == context and entry.api_server and _same_server(entry.api_server, server):
            return
        if entry.name == context and entry.api_server:
            raise NotAllowed(
                f"kube context {context!r} points at API server {server}, but [allow] "
                f"allows it only at {entry.api_server}: drills never touch a cluster the "
                "allow-list does not name; fix the kubeconfig or allow.contexts"
            )
        if entry.name == context:
            return
    if allowed.declared:
        raise NotAllowed(
            f"kube context {context!r} is not in allow.contexts; add it there (name and "
            "api_server) to drill it"
        )


def refuse_unlisted_workload(allowed: AllowSettings, namespace: str, workload: str) -> None:
    """A Kubernetes workload may be faulted when its namespace, and (if the list names any)
    the workload itself, are allowed."""
    if not allowed.declared:
        return
    if namespace not in allowed.namespaces:
        raise NotAllowed(
            f"namespace {namespace!r} is not in allow.namespaces "
            f"({', '.join(allowed.namespaces) or 'none'}): refused before touching {workload}"
        )
    if allowed.workloads and workload not in allowed.workloads:
        raise NotAllowed(
            f"workload {workload!r} in {namespace} is not in allow.workloads "
            f"({', '.join(allowed.workloads)}): refused before touching it"
        )


def refuse_unlisted_group(allowed: AllowSettings, group: str) -> None:
    """A supervisor group may be faulted unless the allow-list names groups and not this one."""
    if allowed.supervisor_groups and group not in allowed.supervisor_groups:
        raise NotAllowed(
            f"supervisor group {group!r} is not in allow.supervisor_groups "
            f"({', '.join(allowed.supervisor_groups)}): refused before touching it"
        )


def refuse_unlisted_service(allowed: AllowSettings, project: str, service: str) -> None:
    """A Compose service may be faulted only when allow.compose_services names it as
    "project/service" (the configuration requires the list on platform "docker")."""
    qualified = f"{project}/{service}"
    if qualified not in allowed.compose_services:
        raise NotAllowed(
            f"Compose service {qualified!r} is not in allow.compose_services "
            f"({', '.join(allowed.compose_services) or 'none'}): refused before touching it"
        )


def _same_server(declared: str, actual: str) -> bool:
    return declared.rstrip("/").lower() == actual.rstrip("/").lower()
