"""The `[load]` table: realistic traffic (Locust, in its own processes) during every drill,
measured per phase."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from drillbook.config.schema import (
    MISSING,
    Bool,
    Context,
    Duration,
    EnvVar,
    Integer,
    Number,
    Rule,
    String,
    Text,
    build,
    setting,
)

__all__ = ["LoadSettings", "parse"]

_POSITIVE = Duration(positive="a duration longer than 0")
# The order values are checked in: with two mistakes in one table, this one is reported first.
_CHECK_ORDER: Final = (
    "enabled",
    "users",
    "max_requests",
    "min_requests",
    "workers",
    "external_workers",
    "max_duration",
    "baseline",
    "start_timeout",
    "latency_slack",
    "settle",
    "rate",
    "latency_percentile",
    "latency_ratio_max",
    "error_rate_margin",
    "trace_read_path",
    "master_port",
    "master_bind_host",
    "worker_key_env",
)


@dataclass(frozen=True)
class LoadSettings:
    """Realistic traffic (Locust, in its own processes) during every drill, measured per phase."""

    enabled: bool = field(default=True, metadata=setting(Bool(), "Run load during every drill."))
    users: int = field(
        default=4, metadata=setting(Integer(minimum=1), "Concurrent simulated users.")
    )
    rate: float = field(
        default=20.0,
        metadata=setting(
            Number("requests per second above 0, e.g. 20", unit="requests/s"),
            "Requests per second in total (spread over the users); at least 0.01 per user.",
        ),
    )
    max_requests: int = field(
        default=100_000,
        metadata=setting(
            Integer(minimum=1), "The load stops after this many requests, whatever the drill does."
        ),
    )
    max_duration_seconds: float = field(
        default=1800.0,
        metadata=setting(
            _POSITIVE,
            "The load also stops after this long, whatever the drill does.",
            key="max_duration",
        ),
    )
    baseline_seconds: float = field(
        default=2.0,
        metadata=setting(
            _POSITIVE,
            "Load that must have run before the fault, so the baseline figures mean something.",
            key="baseline",
        ),
    )
    start_timeout_seconds: float = field(
        default=60.0,
        metadata=setting(
            _POSITIVE, "How long Locust may take to start sending requests.", key="start_timeout"
        ),
    )
    latency_slack_seconds: float = field(
        default=0.1,
        metadata=setting(
            Duration(),
            "Added to `latency_ratio_max` x the baseline's latency, so that a millisecond "
            "baseline does not turn noise into a failure.",
            key="latency_slack",
        ),
    )
    settle_seconds: float = field(
        default=1.0,
        metadata=setting(
            Duration(),
            "Latency is judged on requests sent at least this long after recovery (warm-up "
            "excluded; it is still in the per-phase figures).",
            key="settle",
        ),
    )
    trace_read_path: str = field(
        default="/audit/trace/{trace_id}",
        metadata=setting(
            String(
                (
                    Rule(
                        lambda path: not path or path.startswith("/"),
                        "a path starting with '/' and containing {trace_id}, or '' for none",
                    ),
                    Rule(
                        lambda path: not path or "{trace_id}" in path,
                        "a path containing {trace_id}",
                    ),
                ),
                what="path with {trace_id}, or empty",
            ),
            "Reads back a trace written by this load's own deliberations; empty: no trace reads.",
        ),
    )
    workers: int = field(
        default=0,
        metadata=setting(
            Integer(minimum=0),
            "Locust worker processes started on this machine; 0 runs one local process.",
        ),
    )
    external_workers: int = field(
        default=0,
        metadata=setting(
            Integer(minimum=0),
            "Workers started by hand on other machines that the master waits for (distributed "
            "mode).",
        ),
    )
    master_bind_host: str = field(
        default="127.0.0.1",
        metadata=setting(
            Text(what="host"),
            "Where the Locust master listens for workers (distributed mode).",
        ),
    )
    master_port: int = field(
        default=0,
        metadata=setting(
            Integer(
                minimum=0,
                maximum=65535,
                over="a TCP port from 1 to 65535, or 0 for a free one",
            ),
            "The master's port; 0 picks a free one (set it when workers on other machines "
            "connect).",
        ),
    )
    worker_key_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar(
                "the name of an environment variable (letters, digits, _), not the key",
                "export the key as e.g. DRILLBOOK_LOAD_WORKER_KEY and name that variable here",
                is_secret=True,
            ),
            "The environment variable holding the key workers on other machines prove "
            "themselves with (set the same variable, DRILLBOOK_LOAD_WORKER_KEY, on each "
            "worker); the master hands the plan and the bearer token to no worker without it. "
            "Required with external_workers.",
        ),
    )
    error_rate_margin: float = field(
        default=0.01,
        metadata=setting(
            Number(
                "a fraction from 0 to 1, e.g. 0.01 for 1%",
                allow_zero=True,
                maximum=1,
                over="a fraction <= 1",
            ),
            "After recovery, the error rate may exceed the baseline's by at most this (0 to 1).",
        ),
    )
    latency_percentile: int = field(
        default=50,
        metadata=setting(
            Integer(minimum=1, one_of=(50, 95, 99)),
            'Which latency percentile "performance metrics normal" judges. The median is robust '
            "on a shared machine; the tail (95, 99) suits a quiet, dedicated load path.",
        ),
    )
    latency_ratio_max: float = field(
        default=2.0,
        metadata=setting(
            Number("a factor >= 1, e.g. 2", minimum=1, under="a factor >= 1"),
            "After recovery, that percentile may be at most this multiple of the baseline's "
            "(plus `latency_slack`).",
        ),
    )
    min_requests: int = field(
        default=20,
        metadata=setting(Integer(minimum=1), "Fewest requests in a phase to judge it."),
    )


MOST_USERS = 1000
"""Simulated users one runner can keep honest; beyond that the load generator, not the target,
is what a drill would measure."""
MOST_REQUESTS_PER_SECOND = 5000.0
MOST_WORKERS = 64
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse(context: Context, table: dict[str, Any]) -> LoadSettings:
    settings = build(context, "load", table, LoadSettings, order=_CHECK_ORDER)
    if settings.users > MOST_USERS:
        context.fail("load.users", settings.users, f"at most {MOST_USERS} users")
    if settings.rate > MOST_REQUESTS_PER_SECOND:
        context.fail(
            "load.rate",
            table.get("rate", settings.rate),
            f"at most {MOST_REQUESTS_PER_SECOND:g} requests per second",
            "a drill's load is a realistic steady state, not a load test",
        )
    for key, count in (
        ("workers", settings.workers),
        ("external_workers", settings.external_workers),
    ):
        if count > MOST_WORKERS:
            context.fail(f"load.{key}", count, f"at most {MOST_WORKERS} workers")
    host = settings.master_bind_host.strip().lower()
    if (
        host not in _LOOPBACK_HOSTS
        and not host.startswith("127.")
        and not settings.external_workers
    ):
        # Workers on other machines are the only reason to listen beyond this one: without
        # them an address like 0.0.0.0 offers the load's bearer token to the network.
        context.fail(
            "load.master_bind_host",
            settings.master_bind_host,
            "a loopback address (127.0.0.1) unless load.external_workers says workers on other "
            "machines connect",
        )
    if settings.external_workers and not settings.worker_key_env:
        context.fail(
            "load.worker_key_env",
            MISSING,
            "the environment variable holding the workers' key, with external_workers",
            "the master hands the load's bearer token only to workers that prove a shared key: "
            'e.g. worker_key_env = "DRILLBOOK_LOAD_WORKER_KEY", exported here and on each worker',
        )
    if settings.rate < settings.users * 0.01:
        context.fail(
            "load.rate",
            table.get("rate", settings.rate),
            f"at least 0.01 request per second per user ({settings.users} users)",
        )
    return settings
