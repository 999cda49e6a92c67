"""The `[target]` table: the system under drill, where it answers, how to judge it, what it is
made of. Its sub-tables have their own modules: auth, probes, components."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import (
    MISSING,
    Context,
    Table,
    Text,
    Url,
    check_keys,
    keys,
    parse_fields,
    setting,
    subtable,
)
from drillbook.config.sections import auth as auth_section
from drillbook.config.sections.auth import AuthSettings
from drillbook.config.sections.components import COMPONENT_TABLES, Component, check_placement
from drillbook.config.sections.platform import PlatformName
from drillbook.config.sections.probes import PROBE_TABLES, HttpProbe, check_unique_names

__all__ = ["TargetConfig", "parse"]


@dataclass(frozen=True)
class TargetConfig:
    """The system under drill: where it answers, how to judge it, what it is made of."""

    name: str = field(default="eleanor-v8", metadata=setting(Text(), "A label for reports."))
    environment: str = field(
        default="drill",
        metadata=setting(
            Text(),
            'Free text; "production" (or "prod", any case) is refused unless '
            "`allow_production = true`.",
        ),
    )
    base_url: str | None = field(
        default=None,
        metadata=setting(
            Url(),
            'Root URL, no trailing slash; not set on platform "local": the embedded stack fills '
            'it in. Required on platform "kubernetes" with kubernetes.probes = "http".',
        ),
    )
    probes: tuple[HttpProbe, ...] = field(
        default=(),
        metadata=setting(
            PROBE_TABLES, "Health probes sampled continuously; at least one is required."
        ),
    )
    critical_endpoints: tuple[HttpProbe, ...] = field(
        default=(),
        metadata=setting(
            PROBE_TABLES,
            "Endpoints that must answer for the service to count as restored (verification).",
        ),
    )
    auth: AuthSettings = field(
        default=AuthSettings(),
        metadata=setting(
            Table(AuthSettings), "How to authenticate probes that have `auth = true`."
        ),
    )
    components: Mapping[str, Component] = field(
        default_factory=dict,
        metadata=setting(COMPONENT_TABLES, "Components by name, in file order."),
    )


def parse(
    context: Context, table: dict[str, Any], platform: PlatformName, *, needs_base_url: bool
) -> TargetConfig:
    check_keys(context, "target", table, keys(TargetConfig))
    kwargs = parse_fields(
        context, "target", table, TargetConfig, order=("name", "environment", "base_url")
    )
    if "base_url" not in table and needs_base_url:
        context.fail(
            "target.base_url",
            MISSING,
            "the http(s) URL the deployment answers at, because platform is 'kubernetes'",
            'add base_url = "https://..." under [target]; only the local platform provides one '
            '(or set kubernetes.probes = "pod-readiness" for pods that serve no HTTP)',
        )
    auth = auth_section.parse(context, subtable(context, "target.auth", table, key="auth"))
    kwargs["auth"] = auth

    def check_auth(key: str, raw: dict[str, Any], probe: HttpProbe) -> None:
        if probe.auth and auth.kind == "none":
            context.fail(
                f"{key}.auth",
                raw["auth"],
                "false, because [target.auth] kind is 'none'",
                'set kind = "jwt" under [target.auth] so drillbook can mint a bearer token',
            )

    probes = PROBE_TABLES.parse(
        context, "target.probes", table.get("probes", MISSING), each=check_auth
    )
    if not probes:
        context.fail(
            "target.probes",
            table.get("probes", MISSING),
            "at least one health probe",
            'add [[target.probes]] with name = "health" and path = "/health"',
        )
    kwargs["probes"] = probes
    if "critical_endpoints" in table:
        kwargs["critical_endpoints"] = PROBE_TABLES.parse(
            context, "target.critical_endpoints", table["critical_endpoints"], each=check_auth
        )
    check_unique_names(context, probes, kwargs.get("critical_endpoints", ()))
    if "components" in table:

        def check_component(key: str, raw: dict[str, Any], component: Component) -> None:
            check_placement(context, key, component, platform)

        kwargs["components"] = COMPONENT_TABLES.parse(
            context, "target.components", table["components"], each=check_component
        )
    return TargetConfig(**kwargs)
