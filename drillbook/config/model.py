"""The resolved configuration of a drill run: frozen dataclasses, already validated.

`drillbook.config.loader.load_config` builds these from a TOML file (or the embedded one) plus
overrides; everything downstream reads only these objects, never the file. Times are float
seconds here, whatever unit the file used. `Condition` lives with its grammar in
`drillbook.config.conditions` and is re-exported here so the whole model imports from one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.conditions import CONDITION_OPS, Condition, ConditionOp

__all__ = [
    "COMPONENT_ROLES",
    "CONDITION_OPS",
    "EMBEDDED_SOURCE",
    "PLATFORMS",
    "TIERS",
    "AuthSettings",
    "Component",
    "ComponentRole",
    "Condition",
    "ConditionOp",
    "DrillbookConfig",
    "HttpProbe",
    "Objectives",
    "PlatformName",
    "ProbingSettings",
    "StackSettings",
    "TargetConfig",
    "Tier",
    "VerificationSettings",
]

Tier = Literal["critical", "non_critical", "full"]
PlatformName = Literal["local", "kubernetes"]
ComponentRole = Literal["app", "database", "cache", "vector_store", "secrets", "proxy"]

TIERS: Final[tuple[Tier, ...]] = get_args(Tier)
PLATFORMS: Final[tuple[PlatformName, ...]] = get_args(PlatformName)
COMPONENT_ROLES: Final[tuple[ComponentRole, ...]] = get_args(ComponentRole)
EMBEDDED_SOURCE: Final = "<embedded>"
"""`DrillbookConfig.source` of the configuration shipped inside the package."""


@dataclass(frozen=True)
class Objectives:
    """The recovery objectives a drill is judged against; defaults are the DR plan's."""

    rto_critical_seconds: float = 900.0
    """RTO for critical systems (the plan: 15 minutes)."""
    rto_non_critical_seconds: float = 3600.0
    """RTO for non-critical systems (the plan: 1 hour)."""
    rto_full_seconds: float = 14400.0
    """RTO for full service restoration (the plan: 4 hours)."""
    rpo_seconds: float = 300.0
    """Data-loss tolerance (the plan: 5 minutes)."""
    evidence_loss_allowed: int = 0
    """Evidence records that may be lost (the plan: zero, the audit log is immutable)."""
    configuration_loss_allowed: int = 0
    """Configuration items that may be lost (the plan: zero, it is version controlled)."""

    def rto_for(self, tier: Tier) -> float:
        """The RTO in seconds that applies to a component or drill of `tier`."""
        if tier == "critical":
            return self.rto_critical_seconds
        if tier == "non_critical":
            return self.rto_non_critical_seconds
        if tier == "full":
            return self.rto_full_seconds
        raise ValueError(f"unknown tier {tier!r}, expected one of {', '.join(TIERS)}")


@dataclass(frozen=True)
class ProbingSettings:
    """How the background prober samples the target while a drill runs."""

    interval_seconds: float = 0.25
    """Time between samples; also the error bar of every measured RTO."""
    timeout_seconds: float = 2.0
    """Per-request timeout; a sample that times out counts as down."""
    healthy_streak: int = 3
    """N consecutive healthy samples mean recovered; the first of them is the recovery time."""
    detect_timeout_seconds: float = 60.0
    """How long to wait for the first unhealthy sample after a fault before giving up."""
    recover_timeout_seconds: float = 900.0
    """How long to wait for recovery after detection before raising RecoveryTimeout."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers sent with every probe request (e.g. X-Forwarded-For, a drill marker)."""


@dataclass(frozen=True)
class HttpProbe:
    """One HTTP request whose answer says healthy or not: a status code plus JSON conditions."""

    name: str
    """Unique among the target's probes and critical endpoints; used in samples and reports."""
    path: str
    """Request path starting with "/", joined to `TargetConfig.base_url`, e.g. "/health"."""
    method: str = "GET"
    """HTTP method, upper case."""
    expect_status: tuple[int, ...] = (200,)
    """Status codes that count as success."""
    conditions: tuple[Condition, ...] = ()
    """All must hold on the JSON body for the answer to count as healthy."""
    json_body: Any = None
    """JSON request body (TOML key `json`); None sends no body."""
    auth: bool = False
    """Send a bearer token minted from `TargetConfig.auth`."""


@dataclass(frozen=True)
class AuthSettings:
    """How drillbook authenticates to the target. The secret itself never goes in the file."""

    kind: Literal["none", "jwt"] = "none"
    """With "jwt", probes that have `auth = true` carry a freshly minted bearer token."""
    secret_env: str = "ELEANOR_JWT_SECRET"
    """Name of the environment variable holding the signing secret."""
    algorithm: str = "HS256"
    """JWT signing algorithm (HMAC family: HS256, HS384, HS512)."""
    subject: str = "drillbook"
    """The `sub` claim, so the target's logs can tell drill traffic apart."""
    roles: tuple[str, ...] = ()
    """The `roles` claim."""
    scopes: tuple[str, ...] = ()
    """The `scopes` claim."""


@dataclass(frozen=True)
class Component:
    """A part of the target that faults are injected into and that recovers on its own tier."""

    name: str
    """The key under `[target.components]`, e.g. "database"."""
    role: ComponentRole
    """What it is, which decides the faults and recovery steps that apply."""
    tier: Tier = "critical"
    """Which RTO applies when this component fails."""
    namespace: str | None = None
    """Kubernetes namespace (required on platform "kubernetes")."""
    selector: str | None = None
    """Kubernetes label selector, e.g. "app=eleanor-v8" (required on platform "kubernetes")."""
    workload: str | None = None
    """Kubernetes workload as kind/name, e.g. "deployment/eleanor-v8", "statefulset/postgres"."""
    supervisor_group: str | None = None
    """Local platform: the supervisord group name of its processes."""


@dataclass(frozen=True)
class TargetConfig:
    """The system under drill: where it answers, how to judge it, what it is made of."""

    name: str = "eleanor-v8"
    """A label for reports."""
    environment: str = "drill"
    """Free text; "production" is refused unless `DrillbookConfig.allow_production` is set."""
    base_url: str | None = None
    """Root URL, no trailing slash; None on platform "local": the embedded stack fills it in."""
    probes: tuple[HttpProbe, ...] = ()
    """Health probes sampled continuously; the loader requires at least one."""
    critical_endpoints: tuple[HttpProbe, ...] = ()
    """Endpoints that must answer for the service to count as restored (verification)."""
    auth: AuthSettings = AuthSettings()
    """How to authenticate probes that have `auth = true`."""
    components: Mapping[str, Component] = field(default_factory=dict)
    """Components by name, in file order."""


@dataclass(frozen=True)
class StackSettings:
    """The embedded local stack (platform "local")."""

    app_replicas: int = 2
    """Replicas started behind the proxy; at least 2, so one can die while another serves."""
    max_app_replicas: int = 5
    """Upper bound for scale-out steps (the plan scales to 5); at least `app_replicas`."""
    postgres_bin_dir: str | None = None
    """Directory of initdb/pg_ctl; None searches PATH and /usr/lib/postgresql/*/bin."""
    run_dir: str | None = None
    """Where the stack keeps data, sockets and logs; None creates a fresh private temp dir."""
    reuse: bool = False
    """Reuse a stack already running in `run_dir` instead of starting a new one."""


@dataclass(frozen=True)
class VerificationSettings:
    """How the plan's verification checklist judges a service that has just recovered."""

    window_seconds: float = 10.0
    """How long to keep watching after recovery before judging it, so relapses are caught."""
    error_rate_max: float = 0.01
    """Largest share (0 to 1) of unhealthy probe samples since recovery that still counts as
    normal (the plan's "error rates normal")."""


@dataclass(frozen=True)
class DrillbookConfig:
    """Everything a drill run needs to know, resolved as override > file > default."""

    source: str
    """The file it came from, or "<embedded>" for the configuration shipped in the package."""
    platform: PlatformName = "local"
    """Where faults are injected: local processes under supervisord, or Kubernetes."""
    allow_production: bool = False
    """Explicit confirmation that drills may run against an environment named production."""
    objectives: Objectives = Objectives()
    """Recovery objectives."""
    probing: ProbingSettings = ProbingSettings()
    """Prober settings."""
    target: TargetConfig = TargetConfig()
    """The system under drill."""
    stack: StackSettings = StackSettings()
    """The embedded local stack."""
    verification: VerificationSettings = VerificationSettings()
    """The verification checklist run after recovery."""

    def with_base_url(self, url: str) -> DrillbookConfig:
        """A copy whose target answers at `url` (how the embedded stack fills in its address)."""
        target = dataclasses.replace(self.target, base_url=url.rstrip("/"))
        return dataclasses.replace(self, target=target)
