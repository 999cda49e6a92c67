"""The facts of a drill run shown on the Allure report's environment panel."""

from __future__ import annotations

import platform as host_platform
import shutil
import subprocess
from importlib import metadata

from drillbook import __version__
from drillbook.config.model import DrillbookConfig
from drillbook.errors import MissingDependency
from drillbook.stack.binaries import postgres_bin_dir


def _version_of(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_values(config: DrillbookConfig) -> dict[str, str]:
    values = {
        "drillbook": __version__,
        "platform": config.platform,
        "target": config.target.name,
        "target.environment": config.target.environment,
        "target.base_url": config.target.base_url or "embedded local stack",
        "config": config.source,
        "probe.interval_seconds": str(config.probing.interval_seconds),
        "probe.healthy_streak": str(config.probing.healthy_streak),
        "objective.rto_critical_seconds": str(config.objectives.rto_critical_seconds),
        "objective.rto_non_critical_seconds": str(config.objectives.rto_non_critical_seconds),
        "objective.rto_full_seconds": str(config.objectives.rto_full_seconds),
        "objective.rpo_seconds": str(config.objectives.rpo_seconds),
        "python": host_platform.python_version(),
        "pytest": _package("pytest"),
        "allure-pytest": _package("allure-pytest"),
        "host": host_platform.platform(),
    }
    if config.platform == "local":
        try:
            postgres = str(postgres_bin_dir(config.stack.postgres_bin_dir) / "postgres")
        except MissingDependency:
            postgres = "postgres"
        values["postgresql"] = _version_of([postgres, "--version"])
        values["redis"] = _version_of(["redis-server", "--version"])
        values["haproxy"] = _version_of(["haproxy", "-v"])
    return values
