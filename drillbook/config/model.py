"""The resolved configuration of a drill run: frozen dataclasses, already validated.

`drillbook.config.loader.load_config` builds these from a TOML file (or the embedded one) plus
overrides; everything downstream reads only these objects, never the file. Times are float
seconds here, whatever unit the file used.

Each table's dataclass lives with its declarations and rules in `drillbook.config.sections`;
this module is the one place the whole model imports from (`Condition` too, whose grammar lives
in `drillbook.config.conditions`), and it holds the top of the tree, `DrillbookConfig`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Final

from drillbook.config.conditions import CONDITION_OPS, Condition, ConditionOp
from drillbook.config.schema import Bool, Choice, Table, setting
from drillbook.config.sections.allow import AllowSettings
from drillbook.config.sections.auth import AuthSettings
from drillbook.config.sections.backup import BackupSettings
from drillbook.config.sections.cache import CacheSettings
from drillbook.config.sections.components import COMPONENT_ROLES, Component, ComponentRole
from drillbook.config.sections.docker import DockerSettings
from drillbook.config.sections.findings import FindingSettings
from drillbook.config.sections.history import HistorySettings
from drillbook.config.sections.kubernetes import (
    KUBERNETES_PROBE_MODES,
    KubernetesProbeMode,
    KubernetesSettings,
)
from drillbook.config.sections.ledger import (
    LEDGER_RECORDS,
    LEDGER_SOURCES,
    LedgerRecords,
    LedgerSettings,
    LedgerSource,
)
from drillbook.config.sections.load import LoadSettings
from drillbook.config.sections.notify import LadderRung, NotifySettings, SmtpSettings, Webhook
from drillbook.config.sections.objectives import TIERS, Objectives, Tier
from drillbook.config.sections.platform import PLATFORMS, PlatformName
from drillbook.config.sections.probes import HttpProbe
from drillbook.config.sections.probing import ProbingSettings
from drillbook.config.sections.schedule import CADENCES, Cadence, ScheduleSettings
from drillbook.config.sections.secrets import (
    SECRET_PROVIDERS,
    AwsSecretsSettings,
    KubernetesSecretsSettings,
    SecretProviderName,
    SecretsSettings,
    VaultSecretsSettings,
)
from drillbook.config.sections.sites import SitesSettings
from drillbook.config.sections.stack import StackSettings
from drillbook.config.sections.stop import Alarm, StopSettings
from drillbook.config.sections.target import TargetConfig
from drillbook.config.sections.verification import VerificationSettings
from drillbook.errors import ConfigError

__all__ = [
    "CADENCES",
    "COMPONENT_ROLES",
    "CONDITION_OPS",
    "EMBEDDED_SOURCE",
    "KUBERNETES_PROBE_MODES",
    "LEDGER_RECORDS",
    "LEDGER_SOURCES",
    "PLATFORMS",
    "SECRET_PROVIDERS",
    "TIERS",
    "Alarm",
    "AuthSettings",
    "AwsSecretsSettings",
    "BackupSettings",
    "CacheSettings",
    "Cadence",
    "Component",
    "ComponentRole",
    "Condition",
    "ConditionOp",
    "DockerSettings",
    "DrillbookConfig",
    "HistorySettings",
    "HttpProbe",
    "KubernetesProbeMode",
    "KubernetesSecretsSettings",
    "KubernetesSettings",
    "LadderRung",
    "LedgerRecords",
    "LedgerSettings",
    "LedgerSource",
    "LoadSettings",
    "NotifySettings",
    "Objectives",
    "PlatformName",
    "ProbingSettings",
    "ScheduleSettings",
    "SecretProviderName",
    "SecretsSettings",
    "SmtpSettings",
    "StackSettings",
    "StopSettings",
    "TargetConfig",
    "Tier",
    "VaultSecretsSettings",
    "VerificationSettings",
    "Webhook",
]

EMBEDDED_SOURCE: Final = "<embedded>"
"""`DrillbookConfig.source` of the configuration shipped inside the package."""


@dataclass(frozen=True)
class DrillbookConfig:
    """Everything a drill run needs to know, resolved as override > file > default."""

    source: str
    """The file it came from, or "<embedded>" for the configuration shipped in the package."""
    platform: PlatformName = field(
        default="local",
        metadata=setting(
            Choice(PLATFORMS),
            'Where faults are injected: "local" processes under supervisord (the embedded '
            'stack), "kubernetes" through the cluster\'s API, or "docker" containers of a '
            "Compose project through the Docker engine's API.",
        ),
    )
    allow_production: bool = field(
        default=False,
        metadata=setting(
            Bool(),
            "Explicit confirmation that drills may run against production: a target the "
            "allow-list declares production (allow.production), or whose environment or kube "
            "context is named like it (production, prod, prd, live); drills are destructive.",
        ),
    )
    allow: AllowSettings = field(
        default=AllowSettings(),
        metadata=setting(
            Table(AllowSettings),
            "What drills may fault (contexts, namespaces, workloads, supervisor groups, "
            "Compose services) and whether the target is production.",
        ),
    )
    objectives: Objectives = field(
        default=Objectives(), metadata=setting(Table(Objectives), "Recovery objectives.")
    )
    probing: ProbingSettings = field(
        default=ProbingSettings(), metadata=setting(Table(ProbingSettings), "Prober settings.")
    )
    target: TargetConfig = field(
        default=TargetConfig(), metadata=setting(Table(TargetConfig), "The system under drill.")
    )
    stack: StackSettings = field(
        default=StackSettings(),
        metadata=setting(Table(StackSettings), "The embedded local stack."),
    )
    findings: FindingSettings = field(
        default=FindingSettings(),
        metadata=setting(
            Table(FindingSettings), "Which findings fail a drill instead of being reported."
        ),
    )
    sites: SitesSettings = field(
        default=SitesSettings(),
        metadata=setting(
            Table(SitesSettings),
            "The two sites of the quarterly full DR test (embedded stack, platform local).",
        ),
    )
    stop: StopSettings = field(
        default=StopSettings(),
        metadata=setting(
            Table(StopSettings),
            "Stop conditions: when a drill aborts and undoes its fault at once.",
        ),
    )
    verification: VerificationSettings = field(
        default=VerificationSettings(),
        metadata=setting(
            Table(VerificationSettings), "The verification checklist run after recovery."
        ),
    )
    cache: CacheSettings = field(
        default=CacheSettings(),
        metadata=setting(Table(CacheSettings), "The cache's Sentinels (scenario 3)."),
    )
    load: LoadSettings = field(
        default=LoadSettings(), metadata=setting(Table(LoadSettings), "Load during every drill.")
    )
    kubernetes: KubernetesSettings = field(
        default=KubernetesSettings(),
        metadata=setting(
            Table(KubernetesSettings), 'The cluster and contexts of platform "kubernetes".'
        ),
    )
    docker: DockerSettings = field(
        default=DockerSettings(),
        metadata=setting(
            Table(DockerSettings), 'The engine and Compose project of platform "docker".'
        ),
    )
    ledger: LedgerSettings = field(
        default=LedgerSettings(),
        metadata=setting(
            Table(LedgerSettings),
            "The write ledger that measures data loss (RPO) during every drill.",
        ),
    )
    backup: BackupSettings = field(
        default=BackupSettings(),
        metadata=setting(
            Table(BackupSettings),
            "Where database backups go, how long they are kept, how often they are due.",
        ),
    )
    secrets: SecretsSettings = field(
        default=SecretsSettings(),
        metadata=setting(
            Table(SecretsSettings),
            "The secrets providers of scenario 5 and the names of the secrets in them.",
        ),
    )
    history: HistorySettings = field(
        default=HistorySettings(),
        metadata=setting(
            Table(HistorySettings),
            "Where every drill's record is kept across runs, and the drill report after each.",
        ),
    )
    schedule: ScheduleSettings = field(
        default=ScheduleSettings(),
        metadata=setting(
            Table(ScheduleSettings), "When each scenario's drill is due (`drillbook status`)."
        ),
    )
    notify: NotifySettings = field(
        default=NotifySettings(),
        metadata=setting(
            Table(NotifySettings),
            "Notifications of drill starts, failures and run ends, on the plan's ladder.",
        ),
    )

    def component(self, role_or_name: str) -> Component:
        """The component named `role_or_name`, else the first with that role."""
        components = self.target.components
        if role_or_name in components:
            return components[role_or_name]
        for component in components.values():
            if component.role == role_or_name:
                return component
        known = ", ".join(f"{c.name} ({c.role})" for c in components.values()) or "none"
        raise ConfigError(
            f"{self.source}: key 'target.components': no component named or with role "
            f"'{role_or_name}' (found: {known}); add a [target.components.{role_or_name}] table"
        )

    def tier_of(self, role_or_name: str) -> Tier:
        """The tier of a component (by name), or of every component with that role, which must
        agree: the configuration is the one place a tier is set."""
        if role_or_name in self.target.components:
            return self.target.components[role_or_name].tier
        self.component(role_or_name)  # an unknown one: the message names what there is
        tiers = {c.name: c.tier for c in self.target.components.values() if c.role == role_or_name}
        if len(set(tiers.values())) > 1:
            each = ", ".join(f"{name} is {tier}" for name, tier in tiers.items())
            raise ConfigError(
                f"{self.source}: key 'target.components': the components with role "
                f"'{role_or_name}' have different tiers ({each}); name one of them in the "
                "drill's marker (component=...) or give them the same tier"
            )
        return next(iter(tiers.values()))

    def with_base_url(self, url: str) -> DrillbookConfig:
        """A copy whose target answers at `url` (how the embedded stack fills in its address)."""
        target = dataclasses.replace(self.target, base_url=url.rstrip("/"))
        return dataclasses.replace(self, target=target)
