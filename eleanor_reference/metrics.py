"""Prometheus metrics and recovery ground truth of one reference-service process.

`ServiceMetrics` holds the counters and gauges and renders them in the Prometheus text
exposition format (no client library needed). `GroundTruth` records the moment this process
first produced a response on a path other than `/livez`: drills compare it with the moment
their own probes saw the service recover, so it is read on the system-wide monotonic clock
(`time.monotonic()` is CLOCK_MONOTONIC on Linux, comparable across processes) as well as on
the wall clock.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

GROUND_TRUTH_LOG_PREFIX = "drillbook-ground-truth first_served_request"
#: Paths that never count as a served request (the reverse proxy's liveness probe).
NOT_SERVED_PATHS = frozenset({"/livez", "/readyz"})  # probes of the platform, not users


@dataclass(frozen=True)
class FirstServed:
    """When (and on which path) the process first served a request."""

    monotonic: float
    unixtime: float
    path: str


class GroundTruth:
    """Remembers the first served request of this process and logs it once to stderr."""

    def __init__(
        self,
        replica: str,
        *,
        stream: TextIO | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.replica = replica
        self.pid = os.getpid()
        self._stream = stream
        self._monotonic = monotonic
        self._wallclock = wallclock
        self.started_monotonic = monotonic()
        self.started_unixtime = wallclock()
        self._first: FirstServed | None = None
        self._lock = threading.Lock()

    @property
    def first_served(self) -> FirstServed | None:
        """The first served request, or None before it happens."""
        return self._first

    def mark_served(self, path: str) -> FirstServed | None:
        """Record that a response is being produced for `path`.

        Returns the record when this call was the first one (and logged it), else None.
        """
        if path in NOT_SERVED_PATHS or self._first is not None:
            return None
        with self._lock:
            if self._first is not None:
                return None
            first = FirstServed(self._monotonic(), self._wallclock(), path)
            self._first = first
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(
            f"{GROUND_TRUTH_LOG_PREFIX} replica={self.replica} pid={self.pid} "
            f"monotonic={first.monotonic:.6f} unixtime={first.unixtime:.6f} "
            f"path={_log_safe(path)}\n"
        )
        stream.flush()
        return first


class ServiceMetrics:
    """Counters and gauges of the service; every method is thread-safe."""

    def __init__(self, ground_truth: GroundTruth) -> None:
        self.ground_truth = ground_truth
        self._lock = threading.Lock()
        self.deliberate_requests = 0
        self.evidence_records_written = 0
        self.dependency_failures: dict[str, int] = {"database": 0, "cache": 0}
        self.degraded_components = 0
        self.requests: dict[tuple[str, int], int] = {}

    def count_request(self, path: str, status: int) -> None:
        """Count one response (`path` should be a route template, to bound cardinality)."""
        with self._lock:
            key = (path, status)
            self.requests[key] = self.requests.get(key, 0) + 1

    def count_deliberate(self) -> None:
        """Count one /deliberate request that reached the handler."""
        with self._lock:
            self.deliberate_requests += 1

    def count_evidence_written(self) -> None:
        """Count one evidence record committed to the database."""
        with self._lock:
            self.evidence_records_written += 1

    def count_dependency_failure(self, dependency: str) -> None:
        """Count one failed call to `dependency` ("database" or "cache")."""
        with self._lock:
            self.dependency_failures[dependency] = self.dependency_failures.get(dependency, 0) + 1

    def set_degraded_components(self, count: int) -> None:
        """Set how many components the latest check or request found degraded."""
        with self._lock:
            self.degraded_components = count

    def render(self) -> str:
        """Return every metric in the Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            requests = sorted(self.requests.items())
            failures = sorted(self.dependency_failures.items())
            deliberate = self.deliberate_requests
            written = self.evidence_records_written
            degraded = self.degraded_components
        first = self.ground_truth.first_served
        first_mono = first.monotonic if first is not None else math.nan
        first_unix = first.unixtime if first is not None else math.nan
        lines = [
            "# HELP eleanor_deliberate_requests_total POST /deliberate requests handled.",
            "# TYPE eleanor_deliberate_requests_total counter",
            f"eleanor_deliberate_requests_total {deliberate}",
            "# HELP eleanor_evidence_records_written_total Evidence records committed.",
            "# TYPE eleanor_evidence_records_written_total counter",
            f"eleanor_evidence_records_written_total {written}",
            "# HELP eleanor_dependency_failures_total Failed calls to a dependency.",
            "# TYPE eleanor_dependency_failures_total counter",
            *(
                f'eleanor_dependency_failures_total{{dependency="{_label(name)}"}} {count}'
                for name, count in failures
            ),
            "# HELP eleanor_degraded_components Components found degraded by the latest check.",
            "# TYPE eleanor_degraded_components gauge",
            f"eleanor_degraded_components {degraded}",
            "# HELP eleanor_requests_total HTTP responses by route and status.",
            "# TYPE eleanor_requests_total counter",
            *(
                f'eleanor_requests_total{{path="{_label(path)}",status="{status}"}} {count}'
                for (path, status), count in requests
            ),
            "# HELP eleanor_process_start_monotonic_seconds CLOCK_MONOTONIC at process start.",
            "# TYPE eleanor_process_start_monotonic_seconds gauge",
            "eleanor_process_start_monotonic_seconds "
            f"{_number(self.ground_truth.started_monotonic)}",
            "# HELP eleanor_first_served_request_monotonic_seconds CLOCK_MONOTONIC when the "
            "process first served a request other than /livez (NaN before).",
            "# TYPE eleanor_first_served_request_monotonic_seconds gauge",
            f"eleanor_first_served_request_monotonic_seconds {_number(first_mono)}",
            "# HELP eleanor_first_served_request_unixtime_seconds Wall clock when the process "
            "first served a request other than /livez (NaN before).",
            "# TYPE eleanor_first_served_request_unixtime_seconds gauge",
            f"eleanor_first_served_request_unixtime_seconds {_number(first_unix)}",
        ]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _log_safe(value: str) -> str:
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in value)
