"""Where a `chaos run` drills: the drillbook configuration and run directories, read from the
experiment's configuration values, else from environment variables.

An experiment declares them as Chaos Toolkit configuration (each usually `{"type": "env", ...}`
with a default), so `chaos run --var drillbook_config=my.toml` or `DRILLBOOK_CONFIG=my.toml`
points any experiment at any target; none given drills the embedded stack's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.errors import ConfigError

CONFIG_KEY = "drillbook_config"
RUN_DIR_KEY = "drillbook_run_dir"
REUSE_STACK_KEY = "drillbook_reuse_stack"
RUNS_DIR_KEY = "drillbook_runs_dir"
OVERRIDES_KEY = "drillbook_overrides"

ENVIRONMENT = {
    CONFIG_KEY: "DRILLBOOK_CONFIG",
    RUN_DIR_KEY: "DRILLBOOK_RUN_DIR",
    REUSE_STACK_KEY: "DRILLBOOK_REUSE_STACK",
    RUNS_DIR_KEY: "DRILLBOOK_RUNS_DIR",
}
"""The environment variable each configuration value falls back to."""

DEFAULT_RUNS_DIR = Path("reports") / "runs"
"""Where the drill records go when nothing says otherwise: as for pytest runs (relative to the
directory `chaos run` runs in)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class ChaosSettings:
    """What the control needs to open the target and record the drill."""

    config_path: str | None = None
    """The drillbook configuration file; None: the embedded stack's."""
    overrides: Mapping[str, object] = field(default_factory=dict)
    """Dotted configuration keys in the file's own units, as pytest's --drillbook-* options."""
    runs_dir: Path = DEFAULT_RUNS_DIR


def settings_from(
    configuration: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> ChaosSettings:
    """The settings of one experiment: its configuration values win over the environment."""
    values = configuration or {}
    env = os.environ if environ is None else environ

    def text(key: str) -> str:
        value = values.get(key)
        if value is None or value == "":
            value = env.get(ENVIRONMENT[key], "")
        if not isinstance(value, str):
            raise ConfigError(
                f"Chaos Toolkit configuration '{key}': found {value!r}, expected a string"
            )
        return value.strip()

    overrides: dict[str, object] = {}
    extra = values.get(OVERRIDES_KEY) or {}
    if not isinstance(extra, Mapping):
        raise ConfigError(
            f"Chaos Toolkit configuration '{OVERRIDES_KEY}': found {extra!r}, expected a "
            'mapping of dotted drillbook keys, e.g. {"objectives.rto_critical": "15m"}'
        )
    overrides.update({str(k): v for k, v in extra.items()})
    if run_dir := text(RUN_DIR_KEY):
        overrides["stack.run_dir"] = run_dir
    reuse = text(REUSE_STACK_KEY).lower()
    if reuse not in _TRUE | _FALSE:
        raise ConfigError(
            f"Chaos Toolkit configuration '{REUSE_STACK_KEY}': found {reuse!r}, expected true "
            "or false"
        )
    if reuse in _TRUE:
        overrides["stack.reuse"] = True
    return ChaosSettings(
        config_path=text(CONFIG_KEY) or None,
        overrides=overrides,
        runs_dir=Path(text(RUNS_DIR_KEY)) if text(RUNS_DIR_KEY) else DEFAULT_RUNS_DIR,
    )
