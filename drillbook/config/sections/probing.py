"""The `[probing]` table: how the background prober samples the target while a drill runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.durations import format_duration
from drillbook.config.schema import (
    MISSING,
    REDACTED,
    Bool,
    Context,
    Duration,
    Integer,
    Kind,
    build,
    setting,
)

__all__ = ["ProbingSettings", "parse"]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+")
_POSITIVE = "a duration longer than 0"


@dataclass(frozen=True)
class _Headers(Kind):
    """Extra request headers: names to single-line strings; never an Authorization header."""

    def parse(self, context: Context, key: str, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            context.fail(key, value, 'a table of header names to strings, e.g. { X-Drill = "1" }')
        headers: dict[str, str] = {}
        for header, header_value in value.items():
            entry_key = f"{key}.{header}"
            if not _HEADER_NAME.fullmatch(header):
                context.fail(entry_key, header, "an HTTP header name (letters, digits and -)")
            if header.lower() == "authorization":
                context.fail(
                    entry_key,
                    REDACTED,
                    "no Authorization header in the file",
                    'credentials never go in the file: set [target.auth] kind = "jwt" and keep '
                    "the secret in the environment variable named by secret_env",
                )
            if not isinstance(header_value, str) or "\r" in header_value or "\n" in header_value:
                context.fail(entry_key, header_value, "a single-line string")
            headers[header] = header_value
        return headers

    def describe(self) -> str:
        return "table of header = text"


@dataclass(frozen=True)
class ProbingSettings:
    """How the background prober samples the target while a drill runs."""

    interval_seconds: float = field(
        default=0.25,
        metadata=setting(
            Duration(positive=_POSITIVE, hint="a zero interval would flood the target"),
            "Time between samples; also the error bar of every measured RTO.",
            key="interval",
        ),
    )
    timeout_seconds: float = field(
        default=2.0,
        metadata=setting(
            Duration(positive=_POSITIVE),
            "Per-request timeout; a sample that times out counts as down.",
            key="timeout",
        ),
    )
    detect_timeout_seconds: float = field(
        default=60.0,
        metadata=setting(
            Duration(positive=_POSITIVE),
            "How long to wait for the first unhealthy sample after a fault before giving up; at "
            "least `interval`.",
            key="detect_timeout",
        ),
    )
    recover_timeout_seconds: float = field(
        default=900.0,
        metadata=setting(
            Duration(positive=_POSITIVE),
            "How long to wait for recovery after detection before raising RecoveryTimeout; at "
            "least `interval` x `healthy_streak`.",
            key="recover_timeout",
        ),
    )
    healthy_streak: int = field(
        default=3,
        metadata=setting(
            Integer(minimum=1),
            "N consecutive healthy samples mean recovered; the first of them is the recovery time.",
        ),
    )
    # Off by default, on in the drills whose fault only users' authenticated calls can see
    # (Drill.count_critical_endpoints_in_rto: the secrets drills). On for every drill, the
    # one-replica drill turned red on the embedded stack: a POST /deliberate sent 9 ms after
    # the SIGKILL went over HAProxy's reused connection to the dead replica and was dropped,
    # which HAProxy does not retry for a POST (the GET /health it retries never showed it).
    # Whether such in-flight losses are an outage or a finding is still to be decided.
    measure_critical_endpoints: bool = field(
        default=False,
        metadata=setting(
            Bool(),
            "Count the critical endpoints in the RTO as the health probes are: the outage "
            "starts at the first failed sample of either and ends when all are healthy again. "
            "Off, they are sampled all the same (findings compare them with the health probes) "
            "but only the health probes decide detection and recovery, except in the drills "
            "that count them always (the secrets drills: authentication is what they break).",
        ),
    )
    headers: Mapping[str, str] = field(
        default_factory=dict,
        metadata=setting(
            _Headers(),
            "Extra headers sent with every probe request (e.g. X-Forwarded-For, a drill "
            "marker); never credentials.",
        ),
    )


MOST_SAMPLES_PER_PROBE = 100_000
"""What the background prober keeps per probe (drillbook.engine.prober): past it, it would stop
sampling while the drill still waits."""


def parse(context: Context, table: dict[str, Any]) -> ProbingSettings:
    settings = build(context, "probing", table, ProbingSettings)
    waits = settings.detect_timeout_seconds + settings.recover_timeout_seconds
    if waits / settings.interval_seconds > MOST_SAMPLES_PER_PROBE * 0.9:
        context.fail(
            "probing.interval",
            table.get("interval", MISSING),
            f"an interval of at least {format_duration(waits / (MOST_SAMPLES_PER_PROBE * 0.9))} "
            f"with these timeouts (detect {format_duration(settings.detect_timeout_seconds)}, "
            f"recover {format_duration(settings.recover_timeout_seconds)})",
            f"the prober keeps at most {MOST_SAMPLES_PER_PROBE} samples per probe; shorten "
            "recover_timeout or lengthen the interval",
        )
    # Deadlines shorter than the sampling needs could never be met; say so now, not mid-drill.
    if settings.detect_timeout_seconds < settings.interval_seconds:
        context.fail(
            "probing.detect_timeout",
            table.get("detect_timeout", MISSING),
            f"at least probing.interval ({format_duration(settings.interval_seconds)})",
            "detection needs at least one sample after the fault",
        )
    needed = settings.interval_seconds * settings.healthy_streak
    if settings.recover_timeout_seconds < needed:
        context.fail(
            "probing.recover_timeout",
            table.get("recover_timeout", MISSING),
            f"at least probing.interval x probing.healthy_streak ({format_duration(needed)})",
            "recovery is only declared after healthy_streak healthy samples",
        )
    return settings
