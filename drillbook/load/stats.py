"""Load samples and their per-phase figures: requests, error rate, p50/p95/p99.

Pure functions over recorded samples, so that every rule is unit-tested with invented numbers.
A sample is one request of the load, as the Locust process recorded it (one JSON line each).
"""

from __future__ import annotations

import collections
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drillbook.core.phases import PHASES, Phase, PhaseBounds


@dataclass(frozen=True)
class LoadSample:
    """One request of the load."""

    endpoint: str
    """The endpoint's name (a probe or critical endpoint name, or "trace-read")."""
    sent_at: float
    """Monotonic time the request was sent (same clock as the drill's timeline)."""
    latency_seconds: float
    ok: bool
    """The answer had an expected status code."""
    http_status: int | None = None
    """None when there was no answer (refused, reset, timeout)."""
    throttled: bool = False
    """HTTP 429: says nothing about health; excluded from the error rate."""
    error: str = ""

    @property
    def failed(self) -> bool:
        return not self.ok and not self.throttled


def sample_from_json(line: str, *, wall_offset: float, local_node: str) -> LoadSample | None:
    """Parse one recorded line; None for a torn or foreign line.

    `wall_offset` (monotonic - wall) maps the wall-clock send time of samples recorded on
    another machine (a remote Locust worker) onto this machine's monotonic clock.
    """
    try:
        raw: Any = json.loads(line)
        sent = float(raw["t"]) if raw.get("n") == local_node else float(raw["w"]) + wall_offset
        status = raw.get("s")
        return LoadSample(
            endpoint=str(raw["e"]),
            sent_at=sent,
            latency_seconds=float(raw["l"]),
            ok=bool(raw["ok"]),
            http_status=int(status) if status else None,
            throttled=status == 429,
            error=str(raw.get("x", ""))[:300],
        )
    except (ValueError, KeyError, TypeError):
        return None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (fraction 0..1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class PhaseStats:
    """The load's figures in one phase of a drill."""

    phase: Phase
    requests: int
    """Requests sent in the phase (throttled ones included)."""
    errors: int
    """Requests without an expected answer (throttled ones excluded)."""
    throttled: int
    seconds: float
    """Length of the phase as seen by the load (first to last request sent)."""
    p50_seconds: float | None
    p95_seconds: float | None
    p99_seconds: float | None
    """Latency percentiles of the successful requests."""
    failures: tuple[tuple[str, int], ...] = ()
    """What the failed requests got, most frequent first: ("POST notes: HTTP 409", 8),
    ("GET health: ReadTimeout", 2). A red check says why, not only how many."""
    reasons: tuple[tuple[str, str], ...] = ()
    """For each kind of failure, what the first one said: for an answer, what it said about
    itself (its JSON's reason, or a proxy's page): a 503 from a replica whose database did not
    answer is not a 503 from a proxy with no server left, and a red check should tell which;
    for no answer, the client's message (refused, reset, or closed without a response)."""
    first_failure_seconds: float | None = None
    """When the phase's first failed request was sent, in seconds from the phase's start
    (given to `phase_stats`): a failure right after recovery is not one at its end."""

    @property
    def judged(self) -> int:
        return self.requests - self.throttled

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.judged if self.judged else None

    @property
    def requests_per_second(self) -> float | None:
        return self.requests / self.seconds if self.seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 5)

        return {
            "requests": self.requests,
            "errors": self.errors,
            "throttled": self.throttled,
            "error_rate": rounded(self.error_rate),
            "requests_per_second": rounded(self.requests_per_second),
            "p50_seconds": rounded(self.p50_seconds),
            "p95_seconds": rounded(self.p95_seconds),
            "p99_seconds": rounded(self.p99_seconds),
            "failures": dict(self.failures),
        }

    def failures_text(self, most: int = 4) -> str:
        """ "8 x notes: HTTP 409, 2 x health: ReadTimeout" (the `most` most frequent)."""
        said = dict(self.reasons)
        shown = [
            f"{count} x {what}" + (f" ({said[what]})" if said.get(what) else "")
            for what, count in self.failures[:most]
        ]
        rest = sum(count for _, count in self.failures[most:])
        if rest:
            shown.append(f"{rest} other")
        return ", ".join(shown)


def phase_stats(
    phase: Phase, samples: Sequence[LoadSample], *, since: float | None = None
) -> PhaseStats:
    """The figures of `samples`; `since` is the phase's start, which failures are timed from."""
    latencies = [s.latency_seconds for s in samples if s.ok]
    times = [s.sent_at for s in samples]
    failed_at = [s.sent_at for s in samples if s.failed]
    return PhaseStats(
        phase=phase,
        requests=len(samples),
        errors=sum(1 for s in samples if s.failed),
        throttled=sum(1 for s in samples if s.throttled),
        seconds=(max(times) - min(times)) if len(times) > 1 else 0.0,
        p50_seconds=percentile(latencies, 0.50),
        p95_seconds=percentile(latencies, 0.95),
        p99_seconds=percentile(latencies, 0.99),
        failures=_failure_kinds(samples),
        reasons=_first_reasons(samples),
        first_failure_seconds=(min(failed_at) - since if failed_at and since is not None else None),
    )


def _failure_kind(sample: LoadSample) -> str:
    if sample.http_status is not None:
        what = f"HTTP {sample.http_status}"
    else:
        # The exception's name, without its message (addresses, ids: one kind each).
        what = sample.error.split(":", 1)[0].split("(", 1)[0].strip() or "no answer"
    return f"{sample.endpoint}: {what}"


def _failure_kinds(samples: Sequence[LoadSample]) -> tuple[tuple[str, int], ...]:
    kinds = collections.Counter(_failure_kind(s) for s in samples if s.failed)
    return tuple(sorted(kinds.items(), key=lambda item: (-item[1], item[0])))


def _first_reasons(samples: Sequence[LoadSample]) -> tuple[tuple[str, str], ...]:
    """The reason recorded with the first failed answer of each kind ("HTTP 503: detail: ..."
    from the load's user), in the order first seen."""
    reasons: dict[str, str] = {}
    for sample in sorted((s for s in samples if s.failed), key=lambda s: s.sent_at):
        if sample.http_status is not None:
            prefix = f"HTTP {sample.http_status}: "
        else:  # "ConnectionError: ('Connection aborted.', RemoteDisconnected(...))"
            prefix = sample.error.split(":", 1)[0] + ": "
        if sample.error.startswith(prefix) and sample.error[len(prefix) :].strip():
            reasons.setdefault(_failure_kind(sample), sample.error[len(prefix) :].strip())
    return tuple(reasons.items())


def split_by_phase(
    samples: Iterable[LoadSample], bounds: PhaseBounds
) -> dict[Phase, list[LoadSample]]:
    split: dict[Phase, list[LoadSample]] = {phase: [] for phase in PHASES}
    for sample in samples:
        split[bounds.phase_of(sample.sent_at)].append(sample)
    return split


def stats_by_phase(samples: Iterable[LoadSample], bounds: PhaseBounds) -> dict[Phase, PhaseStats]:
    return {
        phase: phase_stats(phase, group) for phase, group in split_by_phase(samples, bounds).items()
    }


def requests_by_endpoint(samples: Iterable[LoadSample]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.endpoint] = counts.get(sample.endpoint, 0) + 1
    return dict(sorted(counts.items()))
