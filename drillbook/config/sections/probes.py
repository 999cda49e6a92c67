"""The `[[target.probes]]` and `[[target.critical_endpoints]]` tables: one HTTP request each,
whose answer says healthy or not (a status code plus conditions on the JSON body)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from drillbook.config.conditions import Condition, parse_condition
from drillbook.config.schema import (
    Bool,
    Context,
    Kind,
    Name,
    Rule,
    TableArray,
    Text,
    setting,
)

__all__ = ["METHODS", "PROBE_TABLES", "HttpProbe", "check_unique_names"]

METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class _StatusCodes(Kind):
    def parse(self, context: Context, key: str, value: object) -> tuple[int, ...]:
        expected = "a non-empty list of HTTP status codes such as [200]"
        if not isinstance(value, list | tuple) or not value:
            context.fail(key, value, expected)
        codes: list[int] = []
        for index, code in enumerate(value):
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                context.fail(f"{key}[{index}]", code, "an HTTP status code from 100 to 599")
            codes.append(code)
        return tuple(codes)

    def describe(self) -> str:
        return "non-empty list of status codes"


@dataclass(frozen=True)
class Conditions(Kind):
    """A list of conditions on a JSON body (drillbook.config.conditions)."""

    def parse(self, context: Context, key: str, value: object) -> tuple[Condition, ...]:
        if not isinstance(value, list | tuple):
            context.fail(
                key,
                value,
                "a list of condition strings",
                "write conditions = ['status == \"healthy\"']",
            )
        conditions: list[Condition] = []
        for index, condition in enumerate(value):
            item_key = f"{key}[{index}]"
            conditions.append(
                parse_condition(condition, key=item_key, source=context.origin(item_key))
            )
        return tuple(conditions)

    def describe(self) -> str:
        return "list of conditions"


@dataclass(frozen=True)
class _Json(Kind):
    """Any TOML value that has a JSON form: TOML dates and times have none."""

    def parse(self, context: Context, key: str, value: object) -> Any:
        if value is None or isinstance(value, str | bool | int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                context.fail(key, value, "a finite number (JSON has no nan or inf)")
            return value
        if isinstance(value, list | tuple):
            return [self.parse(context, f"{key}[{i}]", item) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return {
                entry: self.parse(context, f"{key}.{entry}", item) for entry, item in value.items()
            }
        context.fail(key, value, "a JSON value (string, number, boolean, array or table)")

    def describe(self) -> str:
        return "JSON value"


@dataclass(frozen=True)
class HttpProbe:
    """One HTTP request whose answer says healthy or not: a status code plus JSON conditions."""

    name: str = field(
        metadata=setting(
            Name(),
            "Unique among the target's probes and critical endpoints; used in samples and reports.",
            required='the probe\'s name, e.g. name = "health"',
        )
    )
    path: str = field(
        metadata=setting(
            Text(
                rules=(
                    Rule(
                        lambda path: path.startswith("/"),
                        "a path starting with '/', e.g. '/health'",
                        "the host belongs in target.base_url",
                    ),
                ),
                what="path starting with /",
            ),
            'Request path, joined to `target.base_url`, e.g. "/health".',
            required='the probe\'s path, e.g. path = "/health"',
        )
    )
    method: str = field(
        default="GET",
        metadata=setting(
            Text(
                rules=(
                    Rule(lambda method: method.upper() in METHODS, f"one of {', '.join(METHODS)}"),
                ),
                transform=str.upper,
                what="HTTP method",
            ),
            "HTTP method, any case (stored upper case).",
        ),
    )
    expect_status: tuple[int, ...] = field(
        default=(200,),
        metadata=setting(_StatusCodes(), "Status codes that count as success."),
    )
    conditions: tuple[Condition, ...] = field(
        default=(),
        metadata=setting(
            Conditions(),
            "All must hold on the JSON body for the answer to count as healthy: "
            "`<path> <op> <JSON value>`, e.g. 'checks.database == \"ok\"' (ops: ==, !=, in, "
            "not in, <, <=, >, >=).",
        ),
    )
    json_body: Any = field(
        default=None,
        metadata=setting(_Json(), "JSON request body; not set sends no body.", key="json"),
    )
    auth: bool = field(
        default=False,
        metadata=setting(
            Bool(),
            'Send a bearer token minted from `[target.auth]` (which then needs kind = "jwt").',
        ),
    )


PROBE_TABLES: Final = TableArray(HttpProbe)


def check_unique_names(
    context: Context, probes: Sequence[HttpProbe], endpoints: Sequence[HttpProbe]
) -> None:
    # Samples and reports are keyed by name, so two probes sharing one would merge silently.
    seen: dict[str, str] = {}
    for list_key, items in (("target.probes", probes), ("target.critical_endpoints", endpoints)):
        for index, probe in enumerate(items):
            key = f"{list_key}[{index}]"
            if probe.name in seen:
                context.fail(
                    f"{key}.name",
                    probe.name,
                    f"a name not already used by {seen[probe.name]}",
                )
            seen[probe.name] = key
