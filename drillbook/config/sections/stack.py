"""The `[stack]` table: the embedded local stack (platform "local")."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Bool, Context, Integer, PathText, Table, build, setting
from drillbook.config.sections import stack_app
from drillbook.config.sections.stack_app import AppSettings

__all__ = ["StackSettings", "parse"]


@dataclass(frozen=True)
class StackSettings:
    """The embedded local stack (platform "local")."""

    app_replicas: int = field(
        default=2,
        metadata=setting(
            Integer(minimum=2, hint="a replica is killed in drills and another must keep serving"),
            "Replicas started behind the proxy; at least 2, so one can die while another serves.",
        ),
    )
    max_app_replicas: int = field(
        default=5,
        metadata=setting(
            Integer(minimum=1),
            "Upper bound for scale-out steps (the plan scales to 5); at least `app_replicas`.",
        ),
    )
    postgres_bin_dir: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            "Directory of initdb/pg_ctl; not set searches PATH and /usr/lib/postgresql/*/bin.",
        ),
    )
    run_dir: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            "Where the stack keeps data, sockets and logs; not set creates a fresh private temp "
            "dir.",
        ),
    )
    reuse: bool = field(
        default=False,
        metadata=setting(
            Bool(), "Reuse a stack already running in `run_dir` instead of starting a new one."
        ),
    )
    app: AppSettings = field(
        default=AppSettings(),
        metadata=setting(
            Table(AppSettings),
            "Your own service in place of the stand-in: its command, environment, readiness.",
        ),
    )


SHARED_DIRECTORIES = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/lib",
    "/var/tmp",
)
"""Directories a stack must never be put in as its run directory: the stack owns its run
directory (it may empty it at the end), and these hold everybody else's files."""


def parse(context: Context, table: dict[str, Any]) -> StackSettings:
    settings = build(context, "stack", table, StackSettings)
    if settings.run_dir is not None:
        resolved = os.path.realpath(os.path.expanduser(settings.run_dir))
        if resolved in SHARED_DIRECTORIES or resolved == os.path.expanduser("~"):
            context.fail(
                "stack.run_dir",
                settings.run_dir,
                "a directory of the stack's own, e.g. /tmp/drillbook-stack",
                f"{resolved} holds other files than the stack's; the stack may remove its run "
                "directory's contents when it stops",
            )
    if isinstance(table.get("app"), dict):
        settings = dataclasses.replace(settings, app=stack_app.parse(context, table["app"]))
    if settings.max_app_replicas < settings.app_replicas:
        # Blame the value the user just changed: an override of app_replicas above the file's
        # maximum is the override's mistake, not the file's.
        app_overridden = context.is_override("stack.app_replicas") and not context.is_override(
            "stack.max_app_replicas"
        )
        if "max_app_replicas" in table and not app_overridden:
            context.fail(
                "stack.max_app_replicas",
                table["max_app_replicas"],
                f"an integer >= stack.app_replicas ({settings.app_replicas})",
            )
        context.fail(
            "stack.app_replicas",
            table["app_replicas"],
            f"an integer <= stack.max_app_replicas ({settings.max_app_replicas})",
            "raise max_app_replicas too",
        )
    return settings
