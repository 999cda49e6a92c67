"""The health-blind-spot and silent-degradation findings on hand-built samples.

A real Timeline and a real Drill, with the probe samples written by hand (what the background
prober records on the embedded stack: tests/integration/test_health_findings.py drills the
purpose-built services for real): which samples raise each finding, with which evidence, and
which never do (an honest service's edge race, a field that varies in the baseline, a window too
short to judge). The load and the ledger are stand-ins with the two methods the watcher reads.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.companions.health_blind_spot import HealthBlindSpotWatch, find_blind_spot
from drillbook.companions.silent_degradation import (
    SilentDegradationWatch,
    Window,
    constant_fields,
)
from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig, HttpProbe
from drillbook.core.clock import FakeClock
from drillbook.core.companions import Attachment
from drillbook.core.recovery import measure_recovery
from drillbook.core.redaction import PLACEHOLDER, REDACTOR
from drillbook.core.steps import Fault, RecoveryStep
from drillbook.core.timeline import Event, EventKind, FieldValue, Sample, SampleStatus, Timeline
from drillbook.core.undo import UndoAction
from drillbook.engine.drill import Drill, DrillIdentity
from drillbook.engine.undo import UndoJournal, UndoStack
from drillbook.ledger.acks import Acknowledgement, FailedWrite
from drillbook.load.stats import LoadSample
from drillbook.probes.health_fields import MAX_FIELDS, MAX_TEXT, health_fields
from drillbook.probes.http import HttpProber
from tests.unit.test_drill_engine import NoProber, RecordingPlatform

INTERVAL = 0.25
FAULT_AT = 10.0
END = 20.0
HEALTH, E2E = "health", "deliberate"  # the embedded configuration's probe names
# The end-to-end call goes out a few milliseconds after the health probe of the same tick.
E2E_LAG = 0.004
# When the scripted answers come: a recovery is timed from its first healthy answer.
HEALTH_ANSWERED = 0.01
E2E_ANSWERED = 0.02

Fields = dict[str, FieldValue]
HEALTHY_FIELDS: Fields = {"status": "healthy", "checks.database": "ok", "checks.cache": "ok"}


def _config(*, min_samples: int = 3, measure_critical: bool = False) -> DrillbookConfig:
    config = load_config(None)
    components = dict(config.target.components)
    components["database"] = dataclasses.replace(
        components["database"], health_field="checks.database"
    )
    return dataclasses.replace(
        config,
        target=dataclasses.replace(config.target, components=components),
        findings=dataclasses.replace(config.findings, blind_spot_min_samples=min_samples),
        probing=dataclasses.replace(
            config.probing,
            interval_seconds=INTERVAL,
            healthy_streak=3,
            measure_critical_endpoints=measure_critical,
        ),
    )


def _drill(
    tmp_path: Path,
    *,
    config: DrillbookConfig | None = None,
    component: str = "database",
    clock: FakeClock | None = None,
    timeline: Timeline | None = None,
) -> Drill:
    platform = RecordingPlatform()
    config = config or _config()
    measured = [HEALTH, E2E] if config.probing.measure_critical_endpoints else [HEALTH]
    return Drill(
        DrillIdentity("x-failure", "critical", "A", "monthly", "hand-built", component=component),
        config=config,
        platform=platform,  # type: ignore[arg-type]
        prober=NoProber(),
        probe_names=measured,
        undo=UndoStack(UndoJournal(tmp_path / "undo.jsonl"), platform.apply_undo),
        timeline=timeline or Timeline(),
        clock=clock or FakeClock(start=0.0),
    )


def _fault(stops: str | None) -> Fault:
    return Fault(
        name="kill",
        description="kill it",
        inject=lambda: None,
        undo=UndoAction("bring it back", "local", "reconcile", {"component": stops or "x"}),
        stops=stops,
    )


def _injected(drill: Drill, stops: str | None) -> Drill:
    drill.fault, drill.fault_at = _fault(stops), FAULT_AT
    return drill


def _ticks(until: float = END) -> list[float]:
    return [round(i * INTERVAL, 4) for i in range(int(until / INTERVAL))]


def _record(
    timeline: Timeline,
    *,
    health: Callable[[float], SampleStatus],
    e2e: Callable[[float], SampleStatus],
    fields: Callable[[float], Fields | None] = lambda t: dict(HEALTHY_FIELDS),
    until: float = END,
) -> None:
    """Both probes on every tick, as the background prober samples them."""
    for t in _ticks(until):
        status = health(t)
        timeline.add_sample(
            Sample(
                HEALTH,
                t,
                t + HEALTH_ANSWERED,
                status,
                http_status=200 if status is SampleStatus.OK else 503,
                fields=fields(t),
            )
        )
        answer = e2e(t + E2E_LAG)
        timeline.add_sample(
            Sample(
                E2E,
                t + E2E_LAG,
                t + E2E_ANSWERED,
                answer,
                http_status=200 if answer is SampleStatus.OK else 503,
                detail="" if answer is SampleStatus.OK else "HTTP 503: database unavailable",
            )
        )


def _down(start: float, end: float) -> Callable[[float], SampleStatus]:
    return lambda t: SampleStatus.DOWN if start <= t < end else SampleStatus.OK


def _ok(t: float) -> SampleStatus:
    return SampleStatus.OK


def _measured(drill: Drill, probe: str) -> None:
    assert drill.fault_at is not None
    drill.measurement = measure_recovery(
        drill.timeline.samples_of(probe), fault_at=drill.fault_at, healthy_streak=3
    )


# -- the health fields a sample keeps ------------------------------------------------------


def test_health_fields_are_the_scalars_by_dotted_path_shallowest_first() -> None:
    body = {
        "status": "degraded",
        "checks": {"database": "error", "cache": {"state": "ok", "latency_ms": 1.5}},
        "errors": ["database: connection refused"],
        "ready": False,
        "version": None,
    }
    assert health_fields(json.dumps(body).encode()) == {
        "status": "degraded",
        "ready": False,
        "version": None,
        "checks.database": "error",
        "errors.0": "database: connection refused",
        "checks.cache.state": "ok",
        "checks.cache.latency_ms": 1.5,
    }


def test_health_fields_are_bounded_cut_and_redacted() -> None:
    REDACTOR.add("hunter2-secret-value")
    try:
        body = {
            "dsn": "postgresql://app:hunter2-secret-value@db/x",
            "trace": "x" * 500,
            "deep": {f"k{i}": i for i in range(100)},
        }
        fields = health_fields(json.dumps(body).encode())
    finally:
        REDACTOR.clear()
    assert fields is not None
    assert len(fields) == MAX_FIELDS
    assert fields["dsn"] == f"postgresql://app:{PLACEHOLDER}@db/x"
    assert fields["trace"] == "x" * MAX_TEXT
    assert "deep.k0" in fields and "deep.k99" not in fields  # the shallow ones kept first


@pytest.mark.parametrize("body", [b"<html>503</html>", b"[1, 2]", b'"ok"', b""])
def test_a_body_that_is_not_a_json_object_keeps_no_fields(body: bytes) -> None:
    assert health_fields(body) is None


def _answering(document: Mapping[str, object], status: int = 200) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=document))
    )


def test_only_a_health_prober_keeps_the_fields_of_its_answers() -> None:
    probe = HttpProbe(name="health", path="/health")
    document = {"status": "ok", "db": "ok"}
    kept = HttpProber(
        "http://t", probe, timeout_seconds=1, client=_answering(document), keep_fields=True
    ).sample(FakeClock())
    plain = HttpProber("http://t", probe, timeout_seconds=1, client=_answering(document)).sample(
        FakeClock()
    )
    assert kept.fields == {"status": "ok", "db": "ok"} and kept.status is SampleStatus.OK
    assert plain.fields is None
    assert "fields" in Timeline().samples_csv().splitlines()[0]


# -- health-blind-spot ---------------------------------------------------------------------


def test_a_health_endpoint_blind_to_the_database_is_reported_with_its_evidence(
    tmp_path: Path,
) -> None:
    drill = _injected(_drill(tmp_path), "database")
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 15.0))
    _measured(drill, E2E)
    watch = HealthBlindSpotWatch()
    (finding,) = watch.findings(drill)
    assert finding.kind == "health-blind-spot" and finding.component == "database"
    evidence = finding.evidence
    assert evidence["blind_samples"] == 20 == evidence["failed_end_to_end_samples"]
    assert evidence["blind_share"] == 1.0
    assert evidence["first_blind_after_fault_seconds"] == pytest.approx(E2E_LAG, abs=1e-3)
    assert evidence["last_blind_after_fault_seconds"] == pytest.approx(4.75 + E2E_LAG, abs=1e-3)
    # The window ends with the recovery: the first healthy end-to-end answer.
    assert evidence["window_after_fault_seconds"] == pytest.approx(5.0 + E2E_ANSWERED, abs=1e-3)
    assert evidence["health_status_codes"] == [200]
    assert evidence["health_field"] == {"path": "checks.database", "values": ["ok"]}
    assert len(evidence["end_to_end_failures"]) == 3
    assert "database unavailable" in evidence["end_to_end_failures"][0]
    assert 'HTTP 200, checks.database "ok"' in finding.summary
    assert watch.figures() == {"failed_end_to_end_samples": 20, "blind_samples": 20}


def test_an_honest_service_at_the_edge_of_an_outage_is_not_reported(tmp_path: Path) -> None:
    # The end-to-end call 4 ms after the health probe of the same tick is the first to see the
    # outage: one failed sample beside a health answer still ok. Every other one is seen.
    drill = _injected(_drill(tmp_path), "database")
    edge = FAULT_AT + 0.002
    _record(drill.timeline, health=_down(edge, 15.0), e2e=_down(edge, 15.0))
    _measured(drill, HEALTH)
    watch = HealthBlindSpotWatch()
    assert watch.findings(drill) == []
    assert watch.figures() == {"failed_end_to_end_samples": 20, "blind_samples": 1}


def test_blind_samples_must_be_at_least_half_of_the_failures(tmp_path: Path) -> None:
    # The health probe saw the outage but recovered 4 samples before the end-to-end call did:
    # 4 blind samples (over the minimum), out of 24 failures: no finding.
    drill = _injected(_drill(tmp_path, config=_config(measure_critical=True)), "database")
    _record(drill.timeline, health=_down(FAULT_AT, 15.0), e2e=_down(FAULT_AT, 16.0))
    _measured(drill, E2E)
    spot = find_blind_spot(
        drill.timeline.samples,
        health_probes=[HEALTH],
        end_to_end_probes=[E2E],
        start=FAULT_AT,
        end=None,
        interval=INTERVAL,
    )
    assert (len(spot.blind), len(spot.failed)) == (4, 24)
    assert not spot.raises(3)
    assert HealthBlindSpotWatch().findings(drill) == []


def test_fewer_blind_samples_than_the_minimum_raise_nothing(tmp_path: Path) -> None:
    drill = _injected(_drill(tmp_path, config=_config(min_samples=5)), "database")
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 11.0))  # 4 failed, all blind
    _measured(drill, E2E)
    assert HealthBlindSpotWatch().findings(drill) == []
    drill.config = _config(min_samples=4)
    assert [f.kind for f in HealthBlindSpotWatch().findings(drill)] == ["health-blind-spot"]


def test_failures_after_recovery_are_outside_the_window(tmp_path: Path) -> None:
    drill = _injected(_drill(tmp_path), "database")
    _record(drill.timeline, health=_down(FAULT_AT, 12.0), e2e=_down(FAULT_AT, 12.0))
    _measured(drill, HEALTH)  # recovered at 12, as the 12 s sample was answered
    assert drill.measurement is not None
    assert drill.measurement.recovered_at == pytest.approx(12.0 + HEALTH_ANSWERED)
    # A blip of the end-to-end call well after recovery: not this fault's business.
    for t in (17.0, 17.25, 17.5, 17.75):
        drill.timeline.add_sample(Sample(E2E, t + 0.001, t + 0.01, SampleStatus.ERROR))
    assert HealthBlindSpotWatch().findings(drill) == []


def test_without_a_recovery_the_window_runs_to_the_end_of_the_drill(tmp_path: Path) -> None:
    drill = _injected(_drill(tmp_path), "database")
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 1e9))
    (finding,) = HealthBlindSpotWatch().findings(drill)  # no measurement: never detected
    assert finding.evidence["blind_samples"] == 40
    assert finding.evidence["window_after_fault_seconds"] is None


def test_a_health_probe_that_said_nothing_beside_the_failure_did_not_call_it_healthy(
    tmp_path: Path,
) -> None:
    drill = _injected(_drill(tmp_path), "database")
    _record(drill.timeline, health=_ok, e2e=_ok)
    # Failures with no health sample within one interval (the health request hanging).
    for t in (30.0, 30.25, 30.5, 30.75):
        drill.timeline.add_sample(Sample(E2E, t, t + 0.01, SampleStatus.DOWN, http_status=503))
    assert HealthBlindSpotWatch().findings(drill) == []


def test_damage_is_reported_at_the_drills_component(tmp_path: Path) -> None:
    # A damaged data file stops no process (stops None): the marker's component, a role here,
    # is resolved to the component's name.
    drill = _injected(_drill(tmp_path, component="database"), None)
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 13.0))
    (finding,) = HealthBlindSpotWatch().findings(drill)
    assert finding.component == "database"
    assert finding.evidence["health_field"]["values"] == ["ok"]


def test_a_drill_measured_end_to_end_recovers_and_reports_the_blind_health_check(
    tmp_path: Path,
) -> None:
    # Through the engine's phases: the health probe never fails, so only the end-to-end call,
    # counted in the RTO ([probing] measure_critical_endpoints), sees and times the outage.
    timeline = Timeline()
    clock = _TwoProbeClock(timeline, outage=(FAULT_AT, 14.0))
    drill = _drill(tmp_path, config=_config(measure_critical=True), clock=clock, timeline=timeline)
    drill.companions.append(HealthBlindSpotWatch())
    drill.begin(baseline_seconds=FAULT_AT)
    drill.inject(_fault("database"))
    drill.wait_until_detected()
    drill.recover(RecoveryStep("restart", "kubectl delete pod", lambda: clock.sleep(1.0)))
    measurement = drill.wait_until_recovered()
    assert measurement.rto_seconds == pytest.approx(4.0, abs=INTERVAL)
    drill.assert_objectives()
    drill.finish()
    (finding,) = drill.findings
    assert finding.kind == "health-blind-spot" and finding.component == "database"
    assert finding.evidence["blind_samples"] == finding.evidence["failed_end_to_end_samples"]


class _TwoProbeClock(FakeClock):
    """Every sleep advances time and records both probes' due ticks: the health probe always
    ok (blind), the end-to-end call down during `outage`."""

    def __init__(self, timeline: Timeline, *, outage: tuple[float, float]) -> None:
        super().__init__(start=0.0)
        self.timeline = timeline
        self.outage = outage
        self.next_tick = 0.0

    def sleep(self, seconds: float) -> None:
        target = self.monotonic() + seconds
        while self.next_tick < target:
            t = self.next_tick
            down = self.outage[0] <= t < self.outage[1]
            self.timeline.add_sample(
                Sample(HEALTH, t, t + 0.01, SampleStatus.OK, 200, fields=dict(HEALTHY_FIELDS))
            )
            self.timeline.add_sample(
                Sample(E2E, t, t + 0.01, SampleStatus.DOWN if down else SampleStatus.OK, 200)
            )
            self.next_tick += INTERVAL
        self.advance(seconds)


# -- silent-degradation --------------------------------------------------------------------


class _Load:
    """The load companion's record of its requests (drillbook.load.LoadCompanion.samples)."""

    name = "load"

    def __init__(self, samples: Sequence[LoadSample]) -> None:
        self._samples = list(samples)

    def start(self, drill: Drill) -> None: ...

    def stop(self, drill: Drill) -> None: ...

    def figures(self) -> Mapping[str, Any]:
        return {}

    def attachments(self) -> list[Attachment]:
        return []

    def samples(self) -> list[LoadSample]:
        return list(self._samples)


class _Ledger(_Load):
    """The write ledger's record (drillbook.ledger.LedgerWriter.snapshot)."""

    name = "ledger"

    def __init__(self, failed_at: Sequence[float]) -> None:
        super().__init__([])
        self.acks = [Acknowledgement(i, f"w-{i}", t, t + 0.01, 0.0) for i, t in enumerate(_ticks())]
        self.failed = [
            FailedWrite(i, f"f-{i}", t, t + 0.5, "HTTP 503") for i, t in enumerate(failed_at)
        ]

    def snapshot(self) -> tuple[list[Acknowledgement], list[FailedWrite], list[str]]:
        return self.acks, self.failed, []


def _load(*, failed_at: Sequence[float] = ()) -> _Load:
    return _Load(
        [LoadSample("deliberate", t, 0.01, ok=True, http_status=200) for t in _ticks()]
        + [LoadSample("deliberate", t + 0.1, 0.01, ok=False, http_status=503) for t in failed_at]
    )


def _varying(t: float) -> Fields:
    return {**HEALTHY_FIELDS, "uptime_seconds": t, "replica": f"app-{int(t / INTERVAL) % 2}"}


def _silent_drill(tmp_path: Path, stops: str | None = "cache") -> Drill:
    return _injected(_drill(tmp_path, component="cache"), stops)


def test_a_dependency_killed_with_nothing_exposed_is_reported_with_its_evidence(
    tmp_path: Path,
) -> None:
    drill = _silent_drill(tmp_path)
    drill.companions += [_load(failed_at=[2.0]), _Ledger(failed_at=[3.0])]  # baseline only
    _record(drill.timeline, health=_ok, e2e=_ok, fields=_varying)
    (finding,) = SilentDegradationWatch().findings(drill)
    assert finding.kind == "silent-degradation" and finding.component == "cache"
    evidence = finding.evidence
    assert evidence["role"] == "cache"
    assert evidence["down_seconds"] == pytest.approx(END - INTERVAL - FAULT_AT + E2E_LAG, abs=1e-3)
    assert evidence["window"] == "from the fault to the end of the drill (no recovery step ran)"
    assert evidence["samples_checked"] == {HEALTH: 40, E2E: 40}
    # The uptime and the replica vary in the baseline: not watched.
    assert evidence["fields_watched"] == {HEALTH: HEALTHY_FIELDS}
    assert evidence["load"] == {"requests": 40, "errors": 0}
    assert evidence["ledger"] == {"writes": 40, "failed": 0}
    assert evidence["not_compared"] == ["metrics"]
    assert "cache (cache) was down for" in finding.summary


def test_a_health_field_that_names_the_outage_is_not_silent(tmp_path: Path) -> None:
    drill = _silent_drill(tmp_path)

    def says_cache_down(t: float) -> Fields:
        return {**_varying(t), "checks.cache": "down" if t >= 12.0 else "ok"}

    # Still status 200 and healthy by the probe's conditions, but the field changed.
    _record(drill.timeline, health=_ok, e2e=_ok, fields=says_cache_down)
    watch = SilentDegradationWatch()
    assert watch.findings(drill) == []
    assert "checks.cache 'ok' -> 'down' at +2.000s" in watch.figures()["exposed"]


@pytest.mark.parametrize(
    ("health", "e2e"),
    [(_down(12.0, 13.0), _ok), (_ok, _down(12.0, 12.5))],
    ids=["health-probe-unhealthy", "end-to-end-call-failed"],
)
def test_an_unhealthy_sample_is_not_silent(
    tmp_path: Path,
    health: Callable[[float], SampleStatus],
    e2e: Callable[[float], SampleStatus],
) -> None:
    drill = _silent_drill(tmp_path)
    _record(drill.timeline, health=health, e2e=e2e)
    watch = SilentDegradationWatch()
    assert watch.findings(drill) == []
    assert str(watch.figures()["exposed"]).startswith("unhealthy sample")


def test_a_load_error_or_a_failed_write_in_the_window_is_not_silent(tmp_path: Path) -> None:
    drill = _silent_drill(tmp_path)
    _record(drill.timeline, health=_ok, e2e=_ok)
    drill.companions.append(_load(failed_at=[11.0]))
    assert SilentDegradationWatch().findings(drill) == []
    drill.companions[:] = [_Ledger(failed_at=[11.0])]
    watch = SilentDegradationWatch()
    assert watch.findings(drill) == []
    assert watch.figures()["exposed"] == "1 ledger write(s) failed"


def test_the_window_ends_at_the_first_recovery_step(tmp_path: Path) -> None:
    drill = _silent_drill(tmp_path)
    # Unhealthy only after the runbook began (its restart): the outage itself was silent.
    _record(drill.timeline, health=_down(16.0, 17.0), e2e=_ok)
    drill.timeline.add_event(Event(15.0, 0.0, EventKind.RECOVERY_STARTED, "restart"))
    (finding,) = SilentDegradationWatch().findings(drill)
    assert finding.evidence["down_seconds"] == pytest.approx(5.0)
    assert finding.evidence["window"] == "from the fault to the first recovery step"


def test_a_window_too_short_to_judge_raises_nothing(tmp_path: Path) -> None:
    drill = _silent_drill(tmp_path)
    _record(drill.timeline, health=_ok, e2e=_ok, until=FAULT_AT + 2 * INTERVAL)
    watch = SilentDegradationWatch()
    assert watch.findings(drill) == []
    assert watch.figures()["samples_checked"] == {HEALTH: 2, E2E: 2}


@pytest.mark.parametrize("stops", ["app", "proxy", None])
def test_only_a_dependency_taken_down_is_judged(tmp_path: Path, stops: str | None) -> None:
    drill = _silent_drill(tmp_path, stops=stops)
    _record(drill.timeline, health=_ok, e2e=_ok)
    assert SilentDegradationWatch().findings(drill) == []


def test_constant_fields_need_enough_baseline_samples() -> None:
    samples = [Sample(HEALTH, t, t, SampleStatus.OK, fields={"a": 1, "t": t}) for t in (0, 1)]
    assert constant_fields(samples, minimum=3) == {}
    assert constant_fields(samples, minimum=2) == {"a": 1}
    assert Window(1.0, None).holds(5.0) and not Window(1.0, 2.0).holds(2.0)


def test_refused_callers_are_not_an_outage_the_health_check_misses(tmp_path: Path) -> None:
    # A secret rotated under the callers: their tokens are refused (401) while every
    # dependency is up. No health endpoint can see the caller's token; nothing is reported.
    drill = _injected(_drill(tmp_path), "database")
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 15.0))
    refused = [
        dataclasses.replace(s, http_status=401, detail="HTTP 401: invalid token")
        if s.probe == E2E and s.status is not SampleStatus.OK
        else s
        for s in drill.timeline.samples
    ]
    drill.timeline = Timeline()
    for sample in refused:
        drill.timeline.add_sample(sample)
    _measured(drill, E2E)
    watch = HealthBlindSpotWatch()
    assert watch.findings(drill) == []
    assert watch.figures()["failed_end_to_end_samples"] == 0


def test_the_services_own_replicas_down_is_not_a_blind_spot(tmp_path: Path) -> None:
    # Every app replica killed behind a proxy whose health check answers for the proxy: that
    # is no dependency down behind a health endpoint; the question does not arise.
    drill = _injected(_drill(tmp_path, component="app"), "app")
    _record(drill.timeline, health=_ok, e2e=_down(FAULT_AT, 15.0))
    _measured(drill, E2E)
    assert HealthBlindSpotWatch().findings(drill) == []
