"""The `[notify]` table: who hears of a drill, when: webhooks, email and the plan's ladder.

The plan's incident ladder: on-call at once, the team lead and manager after 5-15 minutes,
stakeholders after 15-30, and status updates every 15 minutes while it lasts. A drill exercises
it: each rung of `[[notify.ladder]]` names the webhooks and email addresses it reaches and how
long after a drill's failure they are told; the at-once rung (after = "0s") also hears each
drill start and every run's end. Deliveries happen in the background with bounded timeouts:
a dead receiver never blocks or fails a drill, it is logged and named in the run summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from drillbook.config.schema import (
    MISSING,
    Bool,
    Context,
    Duration,
    EnvVar,
    Integer,
    NamedTables,
    Rule,
    Table,
    TableArray,
    Text,
    TextList,
    Url,
    build,
    secret_guard,
    setting,
)

__all__ = ["LadderRung", "NotifySettings", "SmtpSettings", "Webhook", "parse"]

_ADDRESS: Final = Rule(lambda value: "@" in value and " " not in value, "an email address")


@secret_guard
@dataclass(frozen=True)
class Webhook:
    """An incoming webhook (Slack's, or any receiver of a Slack-compatible JSON body)."""

    name: str = ""
    url: str | None = field(
        default=None,
        metadata=setting(Url(), "The webhook's URL, when it carries no token."),
    )
    url_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar("the name of an environment variable holding the webhook's URL"),
            "The environment variable holding the webhook's URL (Slack's carries its token: "
            "it is registered as a secret and never shown).",
        ),
    )


@secret_guard
@dataclass(frozen=True)
class SmtpSettings:
    """The mail server email notifications go through."""

    host: str | None = field(default=None, metadata=setting(Text(), "The SMTP server's host."))
    port: int = field(
        default=25,
        metadata=setting(Integer(minimum=1, maximum=65535, over="a port up to 65535"), "Port."),
    )
    sender: str = field(
        default="drillbook@localhost",
        metadata=setting(Text(rules=(_ADDRESS,)), "The From address."),
    )
    starttls: bool = field(
        default=False, metadata=setting(Bool(), "Upgrade the connection with STARTTLS.")
    )
    user_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar("the name of an environment variable holding the SMTP user"),
            "The environment variable holding the SMTP login's user (no login when unset).",
        ),
    )
    password_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar("the name of an environment variable holding the SMTP password"),
            "The environment variable holding the SMTP login's password.",
        ),
    )


@dataclass(frozen=True)
class LadderRung:
    """Who is told how long after a drill failed."""

    after_seconds: float = field(
        default=0.0,
        metadata=setting(
            Duration(),
            'How long after the run\'s first failed drill, while the run still goes on; "0s": '
            "at once (also told of each drill start and of the run's end).",
            key="after",
        ),
    )
    webhooks: tuple[str, ...] = field(
        default=(),
        metadata=setting(TextList(), "Names of `[notify.webhooks.<name>]` to post to."),
    )
    email: tuple[str, ...] = field(
        default=(), metadata=setting(TextList(), "Email addresses to write to.")
    )


@dataclass(frozen=True)
class NotifySettings:
    """Notifications of drill starts, failures and run ends, on the plan's ladder."""

    timeout_seconds: float = field(
        default=5.0,
        metadata=setting(
            Duration(positive="a duration above 0"),
            "How long one delivery may take (connect, send, answer).",
            key="timeout",
        ),
    )
    status_every_seconds: float = field(
        default=900.0,
        metadata=setting(
            Duration(positive="a duration above 0"),
            "Status updates to every rung reached, this often while the run with a failed "
            "drill goes on (the plan: every 15 minutes).",
            key="status_every",
        ),
    )
    webhooks: Mapping[str, Webhook] = field(
        default_factory=dict,
        metadata=setting(
            NamedTables(Webhook, "tables [notify.webhooks.<name>]"),
            "Webhooks by name ([notify.webhooks.<name>]), each with url or url_env.",
        ),
    )
    smtp: SmtpSettings = field(
        default=SmtpSettings(),
        metadata=setting(Table(SmtpSettings), "The mail server, for the ladder's email."),
    )
    ladder: tuple[LadderRung, ...] = field(
        default=(),
        metadata=setting(
            TableArray(LadderRung),
            "The ladder's rungs ([[notify.ladder]]); none: nobody is notified.",
        ),
    )

    @property
    def enabled(self) -> bool:
        return bool(self.ladder)


def parse(context: Context, table: dict[str, Any]) -> NotifySettings:
    settings = build(context, "notify", table, NotifySettings)
    for name, hook in settings.webhooks.items():
        key = f"notify.webhooks.{name}"
        if (hook.url is None) == (hook.url_env is None):
            context.fail(f"{key}.url", hook.url or MISSING, "exactly one of url and url_env")
    for index, rung in enumerate(settings.ladder):
        key = f"notify.ladder[{index}]"
        if not rung.webhooks and not rung.email:
            context.fail(f"{key}.webhooks", [], "at least one webhook or email address")
        for hook_name in rung.webhooks:
            if hook_name not in settings.webhooks:
                known = ", ".join(settings.webhooks) or "none"
                context.fail(
                    f"{key}.webhooks",
                    hook_name,
                    f"a webhook declared in [notify.webhooks] ({known})",
                )
        for address in rung.email:
            if "@" not in address:
                context.fail(f"{key}.email", address, "an email address")
        if rung.email and settings.smtp.host is None:
            context.fail("notify.smtp.host", MISSING, "the mail server, for the ladder's email")
    return settings
