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
    "KUBERNETES_PROBE_MODES",
    "PLATFORMS",
    "SECRET_PROVIDERS",
    "TIERS",
    "AuthSettings",
    "AwsSecretsSettings",
    "BackupSettings",
    "CacheSettings",
    "Component",
    "ComponentRole",
    "Condition",
    "ConditionOp",
    "DrillbookConfig",
    "HttpProbe",
    "KubernetesProbeMode",
    "KubernetesSecretsSettings",
    "KubernetesSettings",
    "LedgerSettings",
    "LoadSettings",
    "Objectives",
    "PlatformName",
    "ProbingSettings",
    "SecretProviderName",
    "SecretsSettings",
    "StackSettings",
    "TargetConfig",
    "Tier",
    "VaultSecretsSettings",
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
class CacheSettings:
    """How drills reach the cache's Redis Sentinel (scenario 3, Option B)."""

    master_name: str = "mymaster"
    """The Sentinel master group (`SENTINEL get-master-addr-by-name <master_name>`)."""
    sentinels: tuple[str, ...] = ()
    """Sentinel addresses "host:port"; empty on platform "local": the embedded stack fills them."""
    nodes: Mapping[str, str] = field(default_factory=dict)
    """Replica (pod) name of the cache component -> its "host:port", to tell which one is the
    master; filled in by the embedded stack."""
    failover_timeout_seconds: float = 30.0
    """How long the Sentinels may take to agree on a new master after the master is lost."""
    rejoin_timeout_seconds: float = 60.0
    """How long a returning old master may stay a second master (split brain) before it must
    have rejoined as a replica."""


@dataclass(frozen=True)
class LoadSettings:
    """Realistic traffic (Locust, in its own processes) during every drill, measured per phase."""

    enabled: bool = True
    """Run load during every drill."""
    users: int = 4
    """Concurrent simulated users."""
    rate: float = 20.0
    """Requests per second in total (spread over the users)."""
    max_requests: int = 100_000
    """The load stops after this many requests, whatever the drill does."""
    max_duration_seconds: float = 1800.0
    """... or after this long."""
    baseline_seconds: float = 2.0
    """Load that must have run before the fault, so the baseline figures mean something."""
    start_timeout_seconds: float = 60.0
    """How long Locust may take to start sending requests."""
    trace_read_path: str = "/audit/trace/{trace_id}"
    """Reads back a trace written by this load's own deliberations; empty: no trace reads."""
    workers: int = 0
    """Locust worker processes started on this machine; 0 runs one local process."""
    external_workers: int = 0
    """Workers started by hand on other machines that the master waits for (distributed mode)."""
    master_bind_host: str = "127.0.0.1"
    """Where the Locust master listens for workers (distributed mode)."""
    master_port: int = 0
    """The master's port; 0 picks a free one (set it when workers on other machines connect)."""
    error_rate_margin: float = 0.01
    """After recovery, the error rate may exceed the baseline's by at most this (0 to 1)."""
    latency_percentile: int = 50
    """Which latency percentile "performance metrics normal" judges: 50, 95 or 99. The median
    is robust on a shared machine; the tail (95, 99) suits a quiet, dedicated load path."""
    latency_ratio_max: float = 2.0
    """After recovery, that percentile may be at most this multiple of the baseline's ..."""
    latency_slack_seconds: float = 0.1
    """... plus this, so that a millisecond baseline does not turn noise into a failure."""
    settle_seconds: float = 1.0
    """Latency is judged on requests sent at least this long after recovery (warm-up excluded;
    it is still in the per-phase figures)."""
    min_requests: int = 20
    """Fewest requests in a phase to judge it."""


KubernetesProbeMode = Literal["http", "pod-readiness"]
KUBERNETES_PROBE_MODES: Final[tuple[KubernetesProbeMode, ...]] = get_args(KubernetesProbeMode)


@dataclass(frozen=True)
class KubernetesSettings:
    """How drillbook reaches and acts on a Kubernetes cluster (platform "kubernetes")."""

    kubeconfig: str | None = None
    """The kubeconfig file; None reads $KUBECONFIG, then ~/.kube/config."""
    context: str | None = None
    """The kube context drills run against; None uses the kubeconfig's current context."""
    dr_context: str | None = None
    """The disaster-recovery cluster's kube context, for drills that fail over to it."""
    probes: KubernetesProbeMode = "http"
    """"http": the probes call target.base_url, the service as users reach it. "pod-readiness":
    the target serves no HTTP (simulated pods): drillbook serves each component's Ready pods
    behind its selector, read from the API server, at /components/<name> on a loopback address
    that becomes target.base_url."""
    kill_grace_period_seconds: float = 0.0
    """Grace period of the pod deletions a fault makes; 0 force-deletes, like a SIGKILL."""
    request_timeout_seconds: float = 10.0
    """Timeout of each call to the API server."""


LedgerSource = Literal["table", "jsonl", "http"]
LEDGER_SOURCES: Final[tuple[LedgerSource, ...]] = get_args(LedgerSource)
LedgerRecords = Literal["evidence", "other"]
LEDGER_RECORDS: Final[tuple[LedgerRecords, ...]] = get_args(LedgerRecords)


@dataclass(frozen=True)
class LedgerSettings:
    """The write ledger: numbered writes through the target's own write path, read back after.

    Without `write_path` there is no writer, and drills measure no data loss.
    """

    write_path: str | None = None
    """Path of the write endpoint (ELEANOR: "/deliberate", called with a JWT and a trace_id)."""
    rate_per_second: float = 10.0
    """Writes per second on a steady schedule; 1/rate is the resolution of the RPO figure."""
    max_writes: int = 20_000
    """At most this many writes per drill."""
    max_duration_seconds: float = 1800.0
    """The writer stops after this long, whatever the drill is doing."""
    timeout_seconds: float = 2.0
    """Per-write timeout; a write without an answer is not acknowledged."""
    records: LedgerRecords = "evidence"
    """What the writes create: "evidence" (zero loss allowed) or "other" data (the RPO applies)."""
    source: LedgerSource = "table"
    """Where survivors are read back: a Postgres "table", a "jsonl" file, or "http"."""
    table: str = "evidence_records"
    """Table of source "table" (column trace_id, ordered by id; hash chain verified)."""
    dsn_env: str | None = None
    """Environment variable holding the table's DSN; None on the local stack, which knows it."""
    jsonl_path: str | None = None
    """File of source "jsonl" (ELEANOR's evidence file or its hash-chained ledger)."""
    read_path: str = "/audit/trace/{trace_id}?source=database"
    """Read-back path of source "http"; `{trace_id}` is replaced; 404 means not stored."""
    configuration_files: tuple[str, ...] = ()
    """Configuration files the target declares, checksummed before and after (zero loss);
    relative paths are under the embedded stack's run directory."""
    ack_dir: str | None = None
    """Where the acknowledgement files go; None: the stack's run directory (or .drillbook/)."""


@dataclass(frozen=True)
class BackupSettings:
    """Database backups as the plan prescribes them: `pg_dump | gzip` to S3, kept 30 days."""

    bucket: str = "eleanor-backups"
    """S3 bucket of the dumps (on the local stack its moto server plays S3)."""
    prefix: str = "database/"
    """Key prefix of the dumps inside the bucket."""
    name_prefix: str = "eleanor-v8"
    """Dumps are named `<name_prefix>-YYYYmmdd-HHMMSS.sql.gz` (UTC)."""
    retention_seconds: float = 30 * 86400.0
    """Dumps older than this are deleted after each backup (the plan: 30 days)."""
    schedule_seconds: float = 86400.0
    """The backup schedule (the plan: daily); "backups current" means none older than this."""
    endpoint_url: str | None = None
    """S3 endpoint; None: AWS itself, or the embedded stack's moto server on platform local."""
    region: str = "us-east-1"
    """AWS region of the bucket."""


SecretProviderName = Literal["vault", "aws", "kubernetes", "environment"]
SECRET_PROVIDERS: Final[tuple[SecretProviderName, ...]] = get_args(SecretProviderName)


@dataclass(frozen=True)
class VaultSecretsSettings:
    """HashiCorp Vault (or OpenBao) with KV v2, for the secrets drill."""

    address: str | None = None
    """e.g. "https://vault.example:8200"; None on platform "local": the embedded OpenBao."""
    mount: str = "secret"
    """The KV v2 mount (the plan's `secret/eleanor/prod/jwt-secret` is mount `secret`)."""
    field: str = "value"
    """The field of the secret that holds the value (ELEANOR V8 reads `value`)."""
    token_env: str = "VAULT_TOKEN"
    """Environment variable holding drillbook's Vault token (never the file)."""
    component: str | None = None
    """Platform component running Vault, for the provider-down fault; None: not drilled."""


@dataclass(frozen=True)
class AwsSecretsSettings:
    """AWS Secrets Manager, for the secrets drill (credentials: boto3's usual chain)."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    """None: AWS itself, or the embedded stack's Secrets Manager endpoint on platform local."""
    recovery_window_days: int = 7
    """The recovery window of the secret-deleted fault (7-30 days, as AWS allows)."""
    component: str | None = None
    """Platform component serving the endpoint, for the provider-down fault; None: not drilled."""


@dataclass(frozen=True)
class KubernetesSecretsSettings:
    """Kubernetes Secrets, for the secrets drill (through the Kubernetes platform's client)."""

    namespace: str = "eleanor-v8"
    key: str = "value"
    """The key of the Secret's data that holds the value."""


@dataclass(frozen=True)
class SecretsSettings:
    """The secrets providers of scenario 5 (secrets management failure) and what is in them."""

    providers: tuple[SecretProviderName, ...] = ()
    """The providers the secrets drill runs against, in order; empty: no secrets drill."""
    jwt_secret: str = "eleanor/prod/jwt-secret"
    """The JWT signing secret's name/path in every provider (a Secret's name on Kubernetes)."""
    api_key: str = "eleanor/prod/llm-api-key"
    """The outbound (LLM) API key's name/path in every provider."""
    cache_ttl_seconds: float = 300.0
    """How long the target caches a secret (ELEANOR_SECURITY__SECRETS_CACHE_TTL): a revoked
    secret takes up to this long to show, so it extends the detection deadline."""
    vault: VaultSecretsSettings = VaultSecretsSettings()
    aws: AwsSecretsSettings = AwsSecretsSettings()
    kubernetes: KubernetesSecretsSettings = KubernetesSecretsSettings()


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
    cache: CacheSettings = CacheSettings()
    """The cache's Sentinels (scenario 3)."""
    load: LoadSettings = LoadSettings()
    """Load during every drill."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    """The cluster and contexts of platform "kubernetes"."""
    ledger: LedgerSettings = LedgerSettings()
    """The write ledger that measures data loss (RPO) during every drill."""
    backup: BackupSettings = BackupSettings()
    """Where database backups go, how long they are kept, how often they are due."""
    secrets: SecretsSettings = SecretsSettings()
    """The secrets providers of scenario 5 and the names of the secrets in them."""

    def with_base_url(self, url: str) -> DrillbookConfig:
        """A copy whose target answers at `url` (how the embedded stack fills in its address)."""
        target = dataclasses.replace(self.target, base_url=url.rstrip("/"))
        return dataclasses.replace(self, target=target)
