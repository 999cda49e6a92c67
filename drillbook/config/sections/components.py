"""The `[target.components.<name>]` tables: the parts of the target that faults are injected into,
each recovering within its tier's RTO."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from drillbook.config.schema import (
    MISSING,
    Choice,
    Context,
    NamedTables,
    Rule,
    Text,
    quoted,
    setting,
)
from drillbook.config.sections.objectives import TIERS, Tier
from drillbook.config.sections.platform import PlatformName

__all__ = [
    "COMPONENT_ROLES",
    "COMPONENT_TABLES",
    "WORKLOAD_KINDS",
    "Component",
    "ComponentRole",
    "check_placement",
]

ComponentRole = Literal["app", "database", "cache", "vector_store", "secrets", "proxy"]
COMPONENT_ROLES: Final[tuple[ComponentRole, ...]] = get_args(ComponentRole)
WORKLOAD_KINDS: Final = ("deployment", "statefulset", "daemonset", "replicaset")

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?")
_WORKLOAD = re.compile(r"([a-z]+)/([a-z0-9]([a-z0-9.\-]*[a-z0-9])?)")
_DOTTED_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
_COMPOSE_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _is_workload(text: str) -> bool:
    match = _WORKLOAD.fullmatch(text)
    return match is not None and match[1] in WORKLOAD_KINDS


@dataclass(frozen=True)
class Component:
    """A part of the target that faults are injected into and that recovers on its own tier."""

    name: str
    """The key under `[target.components]`, e.g. "database"."""
    role: ComponentRole = field(
        metadata=setting(
            Choice(COMPONENT_ROLES),
            "What it is, which decides the faults and recovery steps that apply.",
            required=f"one of {quoted(COMPONENT_ROLES)}",
        )
    )
    tier: Tier = field(
        default="critical",
        metadata=setting(Choice(TIERS), "Which RTO applies when this component fails."),
    )
    namespace: str | None = field(
        default=None,
        metadata=setting(
            Text(
                rules=(
                    Rule(
                        lambda namespace: len(namespace) <= 63 and _DNS_LABEL.fullmatch(namespace),
                        "a Kubernetes namespace (lower-case letters, digits and -, at most 63)",
                    ),
                ),
                what="Kubernetes namespace",
            ),
            'Kubernetes namespace (required on platform "kubernetes").',
        ),
    )
    selector: str | None = field(
        default=None,
        metadata=setting(
            Text(what="label selector"),
            'Kubernetes label selector, e.g. "app=eleanor-v8" (required on platform "kubernetes").',
        ),
    )
    workload: str | None = field(
        default=None,
        metadata=setting(
            Text(
                rules=(
                    Rule(
                        _is_workload,
                        f"kind/name with kind one of {', '.join(WORKLOAD_KINDS)}, "
                        "e.g. 'deployment/eleanor-v8'",
                    ),
                ),
                what="kind/name",
            ),
            'Kubernetes workload as kind/name, e.g. "deployment/eleanor-v8", '
            '"statefulset/postgres" (kinds: ' + ", ".join(WORKLOAD_KINDS) + ").",
        ),
    )
    supervisor_group: str | None = field(
        default=None,
        metadata=setting(Text(), "Local platform: the supervisord group name of its processes."),
    )
    compose_service: str | None = field(
        default=None,
        metadata=setting(
            Text(
                rules=(
                    Rule(
                        lambda service: _COMPOSE_SERVICE.fullmatch(service),
                        "a Compose service name (letters, digits, '.', '_', '-')",
                    ),
                ),
                what="service name",
            ),
            "Docker platform: the Compose service of its containers (label "
            'com.docker.compose.service) in the project docker.project, e.g. "app" '
            '(required on platform "docker").',
        ),
    )
    health_field: str | None = field(
        default=None,
        metadata=setting(
            Text(
                rules=(
                    Rule(
                        lambda path: _DOTTED_PATH.fullmatch(path),
                        "a dotted path into the health answer's JSON, e.g. 'db' or "
                        "'checks.database'",
                    ),
                ),
                what="dotted path",
            ),
            "The field of the health probes' JSON answer that should name this component when "
            'it is down, e.g. "db" or "checks.database"; findings report what it said while '
            "the component was down.",
        ),
    )


COMPONENT_TABLES: Final = NamedTables(
    Component,
    expected="a table of component tables, e.g. [target.components.app]",
    name_doc="The component's name (letters, digits, `_`, `.`, `-`), e.g. `database`: drills "
    "and fixtures find components by it.",
)


SYSTEM_NAMESPACES: Final = frozenset({"kube-system", "kube-public", "kube-node-lease"})
"""The cluster's own namespaces: never a drill's target."""
MATCH_EVERYTHING: Final = frozenset({"", "*", "all", "{}"})


def check_placement(
    context: Context, key: str, component: Component, platform: PlatformName
) -> None:
    """On Kubernetes, drills find the pods to disrupt by namespace and label selector; on
    Docker, the containers by Compose service."""
    if platform == "docker" and component.compose_service is None:
        context.fail(
            f"{key}.compose_service",
            MISSING,
            "the component's Compose service, because platform is 'docker'",
            "drills find the containers to disrupt by the project's service, e.g. "
            'compose_service = "app"',
        )
    if platform == "kubernetes":
        for required, what in (("namespace", "namespace"), ("selector", "label selector")):
            if getattr(component, required) is None:
                context.fail(
                    f"{key}.{required}",
                    MISSING,
                    f"the component's Kubernetes {what}, because platform is 'kubernetes'",
                    "drills find the pods to disrupt by namespace and selector",
                )
        namespace = component.namespace or ""
        if namespace in SYSTEM_NAMESPACES:
            context.fail(
                f"{key}.namespace",
                namespace,
                "a namespace of the application's own",
                f"{namespace} holds the cluster's own workloads (DNS, the network, the control "
                "plane's add-ons): drills never disrupt them",
            )
        selector = (component.selector or "").strip()
        if selector in MATCH_EVERYTHING or not any(
            op in selector for op in ("=", " in ", " notin ")
        ):
            context.fail(
                f"{key}.selector",
                component.selector,
                'a selector naming the component\'s pods by a label value, e.g. "app=eleanor-v8"',
                'a selector without a value (empty, "*", a bare label key) matches far more '
                "than one component: every pod it matches would be disrupted",
            )
