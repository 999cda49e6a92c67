"""The `[stack.app]` table: your own service on the embedded stack, in place of the stand-in.

The embedded stack runs its PostgreSQL, Redis with Sentinel, Weaviate, OpenBao and moto, and
starts `command` once per replica behind its proxy, handing it the addresses of those
dependencies through the environment variables `environment` names (so the service's own
variable names are used). Every monthly drill then runs against it by configuration alone.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import (
    Choice,
    Context,
    Duration,
    Kind,
    PathText,
    Text,
    TextList,
    build,
    setting,
)

__all__ = ["PLACEHOLDERS", "USES", "AppSettings", "parse"]

PLACEHOLDERS = {
    "port": "this replica's port (required in the command: the proxy sends traffic there)",
    "replica": "this replica's name (app-0, app-1, ...)",
    "python": "the interpreter: `python` below, else drillbook's own",
    "run_dir": "the stack's run directory (a place for the service's files)",
    "database_url": "PostgreSQL, postgresql://eleanor@127.0.0.1:PORT/eleanor_v8",
    "redis_url": "the Redis master at start, redis://127.0.0.1:PORT/0",
    "redis_sentinels": "the Sentinels, host:port,host:port,...",
    "redis_sentinel_master": "the Sentinels' master name",
    "weaviate_url": "Weaviate's REST address",
    "vault_addr": "OpenBao's (Vault API) address",
    "vault_token_file": "a file holding a Vault token (re-issued by the secrets drills)",
    "aws_endpoint_url": "moto's address, for S3 and Secrets Manager",
    "aws_region": "the AWS region moto answers for",
    "aws_access_key_id": "moto's access key id (a dummy)",
    "aws_secret_access_key": "moto's secret key (a dummy)",
    "jwt_secret": "the JWT signing secret the drills mint tokens with",
}
"""What `command` and `environment` values may name in braces, e.g. "{database_url}"."""

USES = ("database", "cache", "vector_store", "secrets")
"""The dependencies a service may use; a drill of one it does not use is not applicable."""


@dataclass(frozen=True)
class _Environment(Kind):
    """Environment variables of the service: names to templates with {placeholders}."""

    def parse(self, context: Context, key: str, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            context.fail(
                key, value, 'a table of variable names to text, e.g. { DB = "{database_url}" }'
            )
        environment: dict[str, str] = {}
        for name, template in value.items():
            entry_key = f"{key}.{name}"
            if not name.replace("_", "").isalnum() or name[0].isdigit():
                context.fail(entry_key, name, "an environment variable name (letters, digits, _)")
            if not isinstance(template, str) or "\n" in template:
                context.fail(entry_key, template, "a single-line string")
            check_placeholders(context, entry_key, template)
            environment[name] = template
        return environment

    def describe(self) -> str:
        return "table of NAME = text"


def placeholders_of(template: str) -> list[str]:
    """The {names} a template uses ("{{" and "}}" are literal braces)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def check_placeholders(context: Context, key: str, template: str) -> None:
    try:
        names = placeholders_of(template)
    except ValueError as exc:
        context.fail(key, template, f"text whose braces are balanced ({exc}; write {{{{ for {{)")
    unknown = [name for name in names if name not in PLACEHOLDERS]
    if unknown:
        context.fail(
            key,
            template,
            f"placeholders among {', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
            f"unknown: {', '.join('{' + u + '}' for u in unknown)}",
        )


@dataclass(frozen=True)
class AppSettings:
    """Your own service in place of the stand-in (none: the stand-in ELEANOR service runs)."""

    command: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            'The command of one replica, with "{port}" where its port goes, e.g. '
            '["{python}", "-m", "uvicorn", "myservice.app:app", "--port", "{port}"]; empty: the '
            "stand-in service.",
        ),
    )
    workdir: str | None = field(
        default=None,
        metadata=setting(PathText(), "Directory the command runs in (default: the run dir)."),
    )
    python: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            'The interpreter "{python}" stands for, e.g. your virtualenv\'s bin/python; not '
            "set: drillbook's own.",
        ),
    )
    environment: dict[str, str] = field(
        default_factory=dict,
        metadata=setting(
            _Environment(),
            "Variables the service reads, in its own names, e.g. DATABASE_URL = "
            '"{database_url}"; the placeholders are listed in this reference.',
        ),
    )
    ready_path: str = field(
        default="/health",
        metadata=setting(
            Text(),
            "Path the proxy's health check and the stack's start wait for (200 = ready).",
        ),
    )
    stop_signal: str = field(
        default="TERM",
        metadata=setting(
            Choice(("TERM", "INT", "QUIT", "HUP", "USR1", "USR2")),
            "Signal that asks a replica to stop (as Kubernetes' SIGTERM).",
        ),
    )
    grace_period_seconds: float = field(
        default=10.0,
        metadata=setting(
            Duration(),
            "How long a replica may take to stop before it is killed (terminationGracePeriod).",
            key="grace_period",
        ),
    )
    uses: tuple[str, ...] = field(
        default=USES,
        metadata=setting(
            TextList(),
            f"The dependencies the service uses, among {', '.join(USES)}: a drill of another "
            "is reported as not applicable (never as passed).",
        ),
    )

    @property
    def is_custom(self) -> bool:
        return bool(self.command)


def parse(context: Context, table: dict[str, Any]) -> AppSettings:
    settings = build(context, "stack.app", table, AppSettings)
    for index, part in enumerate(settings.command):
        check_placeholders(context, f"stack.app.command[{index}]", part)
    if settings.command and not any("port" in placeholders_of(p) for p in settings.command):
        context.fail(
            "stack.app.command",
            list(settings.command),
            'a command with "{port}" in it: each replica must listen on the port it is given',
        )
    unknown = [u for u in settings.uses if u not in USES]
    if unknown:
        context.fail("stack.app.uses", list(settings.uses), f"names among {', '.join(USES)}")
    if not settings.ready_path.startswith("/"):
        context.fail("stack.app.ready_path", settings.ready_path, 'a path starting with "/"')
    return settings
