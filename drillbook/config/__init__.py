"""Configuration: what to drill, how to probe it and which objectives it must meet.

`load_config()` reads a TOML file (or the embedded stack's own configuration), applies overrides
and returns a validated, frozen `DrillbookConfig`; every problem is one `ConfigError` naming the
file, the key, the value found and what was expected.
"""

from drillbook.config.conditions import parse_condition
from drillbook.config.durations import format_duration, parse_duration
from drillbook.config.loader import OVERRIDES_SOURCE, load_config
from drillbook.config.model import (
    COMPONENT_ROLES,
    CONDITION_OPS,
    EMBEDDED_SOURCE,
    PLATFORMS,
    TIERS,
    AuthSettings,
    CacheSettings,
    Component,
    ComponentRole,
    Condition,
    ConditionOp,
    DrillbookConfig,
    HttpProbe,
    LoadSettings,
    Objectives,
    PlatformName,
    ProbingSettings,
    StackSettings,
    TargetConfig,
    Tier,
    VerificationSettings,
)

__all__ = [
    "COMPONENT_ROLES",
    "CONDITION_OPS",
    "EMBEDDED_SOURCE",
    "OVERRIDES_SOURCE",
    "PLATFORMS",
    "TIERS",
    "AuthSettings",
    "CacheSettings",
    "Component",
    "ComponentRole",
    "Condition",
    "ConditionOp",
    "DrillbookConfig",
    "HttpProbe",
    "LoadSettings",
    "Objectives",
    "PlatformName",
    "ProbingSettings",
    "StackSettings",
    "TargetConfig",
    "Tier",
    "VerificationSettings",
    "format_duration",
    "load_config",
    "parse_condition",
    "parse_duration",
]
