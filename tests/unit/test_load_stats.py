"""Per-phase load figures, the two load checks (both able to fail), the plan and the chart."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from drillbook.config.loader import load_config
from drillbook.core.phases import PhaseBounds
from drillbook.core.steps import CheckResult
from drillbook.errors import InvalidDrill
from drillbook.load.chart import render_load_svg
from drillbook.load.checks import load_error_rate_normal, performance_normal
from drillbook.load.companion import LoadCompanion, build_plan, phase_table_html
from drillbook.load.plan import LoadPlan
from drillbook.load.stats import (
    LoadSample,
    percentile,
    phase_stats,
    sample_from_json,
    stats_by_phase,
)

BOUNDS = PhaseBounds(fault_at=10.0, recovered_at=20.0)


def _samples(start: float, end: float, *, latency: float, ok: bool = True) -> list[LoadSample]:
    count = round((end - start) * 10)
    return [
        LoadSample("deliberate", start + i / 10, latency, ok, 200 if ok else 503)
        for i in range(count)
    ]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.99) == 3.0


def test_samples_are_split_at_the_fault_and_the_recovery() -> None:
    samples = (
        _samples(0, 10, latency=0.01)
        + _samples(10, 20, latency=0.5, ok=False)
        + _samples(20, 25, latency=0.02)
    )
    stats = stats_by_phase(samples, BOUNDS)
    assert [stats[p].requests for p in ("baseline", "fault", "recovered")] == [100, 100, 50]
    assert stats["fault"].errors == 100
    assert stats["fault"].error_rate == 1.0
    assert stats["fault"].p95_seconds is None  # no successful request to time
    assert stats["recovered"].error_rate == 0.0
    assert stats["baseline"].p95_seconds == pytest.approx(0.01)
    assert stats["baseline"].requests_per_second == pytest.approx(100 / 9.9)


def test_throttled_requests_are_not_errors() -> None:
    samples = [
        LoadSample("health", 1.0, 0.01, False, 429, throttled=True),
        LoadSample("health", 1.1, 0.01, True, 200),
        LoadSample("health", 1.2, 0.01, False, None, error="ConnectError"),
    ]
    stats = phase_stats("baseline", samples)
    assert (stats.requests, stats.throttled, stats.errors) == (3, 1, 1)
    assert stats.error_rate == 0.5


def test_a_failure_kind_says_what_its_first_answer_said() -> None:
    database = 'HTTP 503: replica app-1; detail: "database unavailable"'
    samples = [
        LoadSample("trace-read", 1.3, 0.01, False, 503, error="HTTP 503: no server is available"),
        LoadSample("trace-read", 1.2, 0.01, False, 503, error=database),
        LoadSample("health", 1.4, 0.01, False, 503, error="HTTP 503"),  # an empty body
        LoadSample("deliberate", 1.5, 0.01, False, None, error="ReadTimeout: timed out"),
    ]
    stats = phase_stats("recovered", samples)
    assert stats.failures == (
        ("trace-read: HTTP 503", 2),
        ("deliberate: ReadTimeout", 1),
        ("health: HTTP 503", 1),
    )
    assert stats.failures_text() == (
        '2 x trace-read: HTTP 503 (replica app-1; detail: "database unavailable"), '
        "1 x deliberate: ReadTimeout (timed out), 1 x health: HTTP 503"
    )
    assert "reasons" not in stats.to_json()  # the drill record's schema is unchanged


def test_sample_lines_from_this_and_from_another_machine() -> None:
    local = '{"e":"health","t":5.5,"w":1000.0,"l":0.01,"ok":true,"s":200,"x":"","n":"here"}'
    remote = '{"e":"health","t":99.0,"w":1000.0,"l":0.01,"ok":false,"s":null,"x":"reset","n":"b"}'
    mine = sample_from_json(local, wall_offset=-990.0, local_node="here")
    theirs = sample_from_json(remote, wall_offset=-990.0, local_node="here")
    assert mine is not None and mine.sent_at == 5.5
    assert theirs is not None and theirs.sent_at == 10.0  # wall 1000 on our monotonic clock
    assert theirs.failed and theirs.http_status is None and theirs.error == "reset"
    assert sample_from_json('{"e": "hea', wall_offset=0, local_node="here") is None


class _FakeLoad(LoadCompanion):
    def __init__(self, samples: list[LoadSample], bounds: PhaseBounds) -> None:
        super().__init__(load_config(None), tokens=None)
        self._fixed = samples
        self._fixed_bounds = bounds

    def samples(self) -> list[LoadSample]:
        return list(self._fixed)

    def bounds(self) -> PhaseBounds:
        return self._fixed_bounds


@dataclasses.dataclass
class _Drill:
    load: _FakeLoad | None
    config: Any = dataclasses.field(default_factory=lambda: load_config(None))

    def companion(self, name: str) -> Any:
        if self.load is None:
            raise InvalidDrill("this drill has no companion 'load'")
        return self.load


def _check(check: Any, samples: list[LoadSample]) -> CheckResult:
    result: CheckResult = check(_Drill(_FakeLoad(samples, BOUNDS)))
    return result


BASELINE = _samples(0, 10, latency=0.02)


def test_performance_normal_passes_when_latency_is_back() -> None:
    result = _check(performance_normal, BASELINE + _samples(20, 25, latency=0.03))
    assert result.passed, result.detail
    assert result.figures["allowed_seconds"] == pytest.approx(0.02 * 2 + 0.1)


def test_performance_normal_fails_when_latency_stays_degraded() -> None:
    result = _check(performance_normal, BASELINE + _samples(20, 25, latency=0.3))
    assert not result.passed
    assert (
        "p50 latency after recovery (from +1 s) 300.0 ms, baseline 20.0 ms, allowed 140.0 ms"
        in (result.detail)
    )


def test_the_tail_is_judged_when_asked() -> None:
    after = _samples(22, 27, latency=0.02)
    after[::10] = [dataclasses.replace(s, latency_seconds=0.5) for s in after[::10]]  # 10% slow
    median = _check(performance_normal, BASELINE + after)
    assert median.passed, median.detail
    config = load_config(None, overrides={"load.latency_percentile": "95"})
    drill = _Drill(_FakeLoad(BASELINE + after, BOUNDS), config)
    tail: CheckResult = performance_normal(drill)  # type: ignore[arg-type]
    assert not tail.passed
    assert tail.detail.startswith("p95 latency after recovery (from +1 s) 500.0 ms"), tail.detail


def test_performance_is_judged_once_the_service_has_settled() -> None:
    warm_up = _samples(20, 21.5, latency=0.4)  # a restarted replica's first requests
    result = _check(performance_normal, BASELINE + warm_up + _samples(21.5, 25, latency=0.03))
    assert result.passed, result.detail
    assert result.figures["after_requests"] == 40  # from 21 s: the median is back to normal


def test_error_rate_normal_fails_when_errors_continue_after_recovery() -> None:
    after = _samples(20, 25, latency=0.02)
    after[::10] = [dataclasses.replace(s, ok=False, http_status=503) for s in after[::10]]
    result = _check(load_error_rate_normal, BASELINE + after)
    assert not result.passed
    assert "5 of 50 load requests failed after recovery (10.00%)" in result.detail


def test_error_rate_normal_allows_the_baseline_plus_the_margin() -> None:
    baseline = list(BASELINE)
    baseline[0] = dataclasses.replace(baseline[0], ok=False)
    after = _samples(20, 25, latency=0.02)
    after[0] = dataclasses.replace(after[0], ok=False)
    result = _check(load_error_rate_normal, baseline + after)
    assert result.passed, result.detail  # 2% after against 1% baseline + 1% margin


def test_too_few_requests_cannot_be_judged_and_fail() -> None:
    result = _check(performance_normal, BASELINE + _samples(20, 22, latency=0.02))
    assert not result.passed
    assert "too few load requests to judge" in result.detail


def test_without_load_the_checks_fail_and_say_why() -> None:
    result = performance_normal(_Drill(None))  # type: ignore[arg-type]
    assert not result.passed
    assert "no load ran during this drill" in result.detail


def test_plan_covers_probes_critical_endpoints_and_trace_reads(tmp_path: Path) -> None:
    config = load_config(None).with_base_url("http://127.0.0.1:1")
    plan = build_plan(config, tmp_path / "s.jsonl", tmp_path / "token")
    names = {e.name: e for e in plan.endpoints}
    assert set(names) == {"health", "deliberate"}
    assert names["deliberate"].auth and names["deliberate"].records_trace
    assert not names["health"].records_trace
    assert plan.trace_read_path == "/audit/trace/{trace_id}"
    again = LoadPlan.from_json(plan.to_json())
    assert again == plan
    assert "secret" not in plan.to_json().lower()


def test_phase_table_and_chart(tmp_path: Path) -> None:
    samples = (
        _samples(0, 10, latency=0.01)
        + _samples(10, 20, latency=0.5, ok=False)
        + _samples(20, 25, latency=0.02)
    )
    table = phase_table_html(stats_by_phase(samples, BOUNDS))
    assert "<th>during the fault</th><td>100</td>" in table
    svg = render_load_svg(samples, BOUNDS, origin=10.0, title="load")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    events = [e.get("data-event") for e in root.iter(f"{ns}line") if e.get("class") == "event"]
    assert events == ["fault", "recovered"]
    errors = [r for r in root.iter(f"{ns}rect") if r.get("class") == "errors"]
    assert len(errors) == 20  # ten seconds of errors in half-second buckets
    dots = [c for c in root.iter(f"{ns}circle") if c.get("class") == "latency"]
    assert len(dots) == 150
    empty = ET.fromstring(render_load_svg([], PhaseBounds(), origin=0.0, title="none"))
    assert any(t.text == "no load samples recorded" for t in empty.iter(f"{ns}text"))


def test_the_drill_process_never_imports_locust() -> None:
    # Locust patches the process with gevent on import; in the drill process that would break
    # the prober's threads (and fails outright after urllib3 was imported).
    code = (
        "import sys, drillbook.load.companion, drillbook.load.checks, drillbook.load.runner;"
        "import drillbook.assembly.companions as c; c.companion_factories();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


def test_pytest_runs_without_locusts_plugin() -> None:
    # Locust's pytest plugin adds --host and fixtures named `session`/`fastsession` (and a
    # fixture would import locust, patching the run with gevent); addopts disables it.
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-q", "tests/unit/test_cache_watch.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "drillbook_config" in out.stdout  # the listing is real: drillbook's own fixtures
    assert "fastsession" not in out.stdout


def test_a_phases_failures_are_counted_by_what_they_got() -> None:
    samples = [
        LoadSample("notes", 1.0, 0.01, ok=False, http_status=409),
        LoadSample("notes", 1.1, 0.01, ok=False, http_status=409),
        LoadSample("health", 1.2, 2.0, ok=False, error="ReadTimeout: timed out (127.0.0.1:2)"),
        LoadSample("health", 1.3, 0.01, ok=False, http_status=429, throttled=True),
        LoadSample("health", 1.4, 0.01, ok=True, http_status=200),
    ]
    stats = phase_stats("recovered", samples)
    assert stats.errors == 3
    assert stats.failures == (("notes: HTTP 409", 2), ("health: ReadTimeout", 1))
    assert stats.failures_text() == (
        "2 x notes: HTTP 409, 1 x health: ReadTimeout (timed out (127.0.0.1:2))"
    )
    assert stats.to_json()["failures"] == {"notes: HTTP 409": 2, "health: ReadTimeout": 1}


def test_a_failure_without_an_answer_says_what_the_client_saw_and_when() -> None:
    """A red "error rates normal" after recovery names the transport error and when it came:
    a connection reset 0.3 s after recovery is a different finding from a refusal 20 s on."""
    aborted = "ConnectionError: ('Connection aborted.', RemoteDisconnected('closed'))"
    samples = [
        LoadSample("health", 20.1, 0.01, ok=True, http_status=200),
        LoadSample("health", 20.3, 0.01, ok=False, error=aborted),
        LoadSample("health", 21.5, 0.01, ok=False, error="ConnectionError: refused"),
    ]
    stats = phase_stats("recovered", samples, since=20.0)
    assert stats.failures_text() == (
        "2 x health: ConnectionError (('Connection aborted.', RemoteDisconnected('closed')))"
    )
    assert stats.first_failure_seconds == pytest.approx(0.3)
    assert phase_stats("recovered", samples).first_failure_seconds is None
    assert phase_stats("recovered", samples[:1], since=20.0).first_failure_seconds is None
