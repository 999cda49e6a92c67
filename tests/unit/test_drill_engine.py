"""The drill engine's phases and verdicts on an injected clock and a scripted target.

The scripted target stands in for the real one only here; tests/integration drills the
embedded stack through the same engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from drillbook.core.clock import FakeClock
from drillbook.core.steps import Fault, RecoveryStep
from drillbook.core.timeline import EventKind, Sample, SampleStatus, Timeline
from drillbook.core.undo import UndoAction
from drillbook.engine.drill import Drill, DrillIdentity
from drillbook.engine.stop import StopCheck
from drillbook.engine.undo import UndoJournal, UndoStack
from drillbook.errors import (
    DrillFailed,
    InvalidDrill,
    ObjectiveBreached,
    RecoveryTimeout,
    VerificationFailed,
)

INTERVAL = 0.25


class ScriptedClock(FakeClock):
    """Every sleep advances time and lets the scripted target answer the due probe ticks."""

    def __init__(self, timeline: Timeline, health: Callable[[float], SampleStatus]) -> None:
        super().__init__(start=0.0)
        self.timeline = timeline
        self.health = health
        self.next_tick = 0.0

    def sleep(self, seconds: float) -> None:
        target = self.monotonic() + seconds
        while self.next_tick < target:
            t = self.next_tick
            # Answered at once: the RTO arithmetic of slow answers has its own tests
            # (tests/unit/test_recovery.py); here the scripted figures stay round.
            self.timeline.add_sample(
                Sample(probe="health", sent_at=t, received_at=t, status=self.health(t))
            )
            self.next_tick += INTERVAL
        self.advance(seconds)


class NoProber:
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class RecordingPlatform:
    name = "local"

    def __init__(self) -> None:
        self.undone: list[UndoAction] = []

    def apply_undo(self, action: UndoAction) -> None:
        self.undone.append(action)


def make_drill(
    tmp_path: Path,
    health: Callable[[float], SampleStatus],
    *,
    config: DrillbookConfig | None = None,
    stop_checks: Sequence[StopCheck] = (),
    clock_for: Callable[[Timeline], ScriptedClock] | None = None,
    critical_names: Sequence[str] = (),
) -> tuple[Drill, ScriptedClock, RecordingPlatform]:
    cfg = config or load_config(None)
    cfg = dataclasses.replace(
        cfg,
        probing=dataclasses.replace(
            cfg.probing,
            interval_seconds=INTERVAL,
            healthy_streak=3,
            detect_timeout_seconds=5.0,
            recover_timeout_seconds=30.0,
        ),
    )
    timeline = Timeline()
    clock = clock_for(timeline) if clock_for else ScriptedClock(timeline, health)
    platform = RecordingPlatform()
    drill = Drill(
        DrillIdentity("application-failure", "critical", "test", "monthly", "scripted"),
        config=cfg,
        platform=platform,  # type: ignore[arg-type]
        prober=NoProber(),
        probe_names=["health"],
        undo=UndoStack(UndoJournal(tmp_path / "undo.jsonl"), platform.apply_undo),
        timeline=timeline,
        clock=clock,
        stop_checks=stop_checks,
        critical_names=critical_names,
    )
    return drill, clock, platform


def down_between(start: float, end: float) -> Callable[[float], SampleStatus]:
    return lambda t: SampleStatus.DOWN if start <= t < end else SampleStatus.OK


def fault() -> Fault:
    return Fault(
        name="kill-app",
        description="kill every replica",
        inject=lambda: {"killed": ["app-0"]},
        undo=UndoAction("restart app", "local", "reconcile", {"component": "app"}),
    )


def noop_step(clock: FakeClock, seconds: float) -> RecoveryStep:
    return RecoveryStep(
        "restart", "kubectl rollout restart deployment/x", lambda: clock.sleep(seconds)
    )


def test_full_drill_measures_rto(tmp_path: Path) -> None:
    drill, clock, platform = make_drill(tmp_path, down_between(2.0, 6.0))
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(noop_step(clock, 1.0))
    m = drill.wait_until_recovered()
    assert m.rto_seconds == pytest.approx(4.0)
    assert m.rto_error_bar_seconds == pytest.approx(INTERVAL)
    drill.assert_objectives()
    drill.finish()
    assert [a.verb for a in platform.undone] == ["reconcile"]
    kinds = [e.kind for e in drill.timeline.events]
    assert kinds.index(EventKind.FAULT_INJECTED) < kinds.index(EventKind.RECOVERED)
    assert set(drill.phase_durations()) >= {"baseline", "inject", "detect", "recover", "recovered"}


def test_never_recovers_times_out_with_a_clear_failure(tmp_path: Path) -> None:
    drill, clock, platform = make_drill(tmp_path, down_between(2.0, 1e9))
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    with pytest.raises(RecoveryTimeout) as excinfo:
        drill.wait_until_recovered(timeout=10.0)
    message = str(excinfo.value)
    assert "did not recover within 10s" in message
    assert "down" in message
    assert clock.monotonic() == pytest.approx(12.0, abs=0.1)
    assert isinstance(excinfo.value, AssertionError)  # a failed drill, not a broken one
    drill.finish()
    assert platform.undone, "the undo must run after a failed drill"


def test_fault_never_detected(tmp_path: Path) -> None:
    drill, _, _ = make_drill(tmp_path, lambda t: SampleStatus.OK)
    drill.begin(baseline_seconds=1.0)
    drill.inject(fault())
    with pytest.raises(RecoveryTimeout, match="never detected"):
        drill.wait_until_detected()
    drill.finish()


def test_rto_breach_names_measured_and_allowed(tmp_path: Path) -> None:
    base = load_config(None)
    strict = dataclasses.replace(
        base, objectives=dataclasses.replace(base.objectives, rto_critical_seconds=3.0)
    )
    drill, _clock, _ = make_drill(tmp_path, down_between(2.0, 6.0), config=strict)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()
    with pytest.raises(ObjectiveBreached) as excinfo:
        drill.assert_objectives()
    message = str(excinfo.value)
    assert message.startswith("RTO breach: measured 4.000s")
    assert "objective of 3s" in message
    drill.finish()


def test_throttled_samples_do_not_look_like_an_outage(tmp_path: Path) -> None:
    def health(t: float) -> SampleStatus:
        return SampleStatus.THROTTLED if 2.0 <= t < 4.0 else SampleStatus.OK

    drill, _, _ = make_drill(tmp_path, health)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    m = drill.observe_no_outage(4.0)
    assert not m.outage_observed
    assert m.throttled_samples == 8
    drill.finish()


def test_absorbed_fault_that_caused_an_outage_fails(tmp_path: Path) -> None:
    drill, _, _ = make_drill(tmp_path, down_between(2.5, 3.0))
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    with pytest.raises(DrillFailed, match="users saw an outage") as excinfo:
        drill.observe_no_outage(3.0)
    # A red drill says what users saw: which probe failed, when after the fault, and why.
    message = str(excinfo.value)
    assert message.endswith(
        "2 unhealthy sample(s): health at +0.500s: down; health at +0.750s: down"
    )
    drill.finish()


def test_unhealthy_baseline_injects_nothing(tmp_path: Path) -> None:
    drill, _, platform = make_drill(tmp_path, lambda t: SampleStatus.DOWN)
    with pytest.raises(Exception, match="not healthy before the fault"):
        drill.begin(baseline_seconds=1.0)
    assert drill.fault is None
    drill.finish()
    assert platform.undone == []


def test_undo_survives_a_dead_run(tmp_path: Path) -> None:
    from drillbook.engine.undo import replay_pending

    journal = UndoJournal(tmp_path / "undo.jsonl")
    platform = RecordingPlatform()
    stack = UndoStack(journal, platform.apply_undo)
    stack.push(UndoAction("restart app", "local", "reconcile", {"component": "app"}))
    # The process "dies" here: a new journal object sees the pending entry and replays it.
    replayed = replay_pending(UndoJournal(tmp_path / "undo.jsonl"), platform.apply_undo)
    assert [o.action.verb for o in replayed] == ["reconcile"]
    assert replay_pending(UndoJournal(tmp_path / "undo.jsonl"), platform.apply_undo) == []


def test_failed_undo_stays_pending_for_the_next_run(tmp_path: Path) -> None:
    from drillbook.engine.undo import replay_pending

    journal = UndoJournal(tmp_path / "undo.jsonl")

    def broken(action: UndoAction) -> None:
        raise OSError("supervisord not answering")

    stack = UndoStack(journal, broken)
    stack.push(UndoAction("restart app", "local", "reconcile", {"component": "app"}))
    outcomes = stack.unwind()
    assert outcomes[0].error is not None and "supervisord" in outcomes[0].error
    platform = RecordingPlatform()
    assert len(replay_pending(journal, platform.apply_undo)) == 1


def test_error_rate_after_recovery_names_the_unhealthy_samples(tmp_path: Path) -> None:
    from drillbook.scenarios.common import error_rate_normal

    def relapse(t: float) -> SampleStatus:
        # Down after the fault, recovered at 4.0 s, one relapse at 6.0 s.
        return SampleStatus.DOWN if 2.5 <= t < 4.0 or t == 6.0 else SampleStatus.OK

    drill, _, _ = make_drill(tmp_path, relapse)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.wait_until_recovered()
    with pytest.raises(VerificationFailed, match="error rates normal") as excinfo:
        drill.verify(error_rate_normal, window_seconds=4.0)
    assert "1 unhealthy sample(s): health at +4.000s: down" in str(excinfo.value)
    drill.finish()


class _Companion:
    """A companion that says how long it has been at work (the load does: its own baseline)."""

    name = "busy"

    def __init__(self, clock: FakeClock, at_work: float | None) -> None:
        self.clock = clock
        self.at_work = at_work
        self.started_at: float | None = None

    def start(self, drill: Drill) -> None:
        self.started_at = self.clock.monotonic()

    def stop(self, drill: Drill) -> None: ...

    def figures(self) -> dict[str, object]:
        return {}

    def attachments(self) -> list[object]:
        return []


class _AtWork(_Companion):
    def start(self, drill: Drill) -> None:
        # As the load does: its start returns once it has been at work for a while.
        assert self.at_work is not None
        self.clock.sleep(self.at_work)

    def seconds_at_work(self) -> float:
        assert self.at_work is not None
        return self.at_work


@pytest.mark.parametrize(
    ("companion_kind", "at_work", "baseline_ends_at"),
    [
        # A companion that says nothing: the full baseline after its start.
        ("plain", None, 2.0),
        # At work for 1.5 s when its start returns: only the missing 0.5 s (not 2 s more).
        ("at_work", 1.5, 2.0),
        # At work longer than the baseline: nothing more to wait for.
        ("at_work", 3.0, 3.0),
    ],
)
def test_baseline_counts_the_time_companions_have_been_at_work(
    tmp_path: Path, companion_kind: str, at_work: float | None, baseline_ends_at: float
) -> None:
    drill, clock, _ = make_drill(tmp_path, lambda t: SampleStatus.OK)
    companion = (_AtWork if companion_kind == "at_work" else _Companion)(clock, at_work)
    drill.companions = [companion]  # type: ignore[list-item]
    drill.begin(baseline_seconds=2.0)
    assert clock.monotonic() == pytest.approx(baseline_ends_at)


class HealthyButRefusingClock(ScriptedClock):
    """/health always ok; the critical endpoint `deliberate` refused while `refused(t)`: what
    users saw after a leaked secret's rotation, until their tokens were re-issued."""

    def __init__(self, timeline: Timeline, refused: Callable[[float], SampleStatus]) -> None:
        super().__init__(timeline, lambda _: SampleStatus.OK)
        self.refused = refused

    def sleep(self, seconds: float) -> None:
        target = self.monotonic() + seconds
        tick = self.next_tick
        while tick < target:
            self.timeline.add_sample(
                Sample(
                    probe="deliberate",
                    sent_at=tick,
                    received_at=tick,
                    status=self.refused(tick),
                )
            )
            tick += INTERVAL
        super().sleep(seconds)


def _drill_with_a_critical_endpoint(tmp_path: Path) -> tuple[Drill, ScriptedClock]:
    drill, clock, _ = make_drill(
        tmp_path,
        lambda _: SampleStatus.OK,
        clock_for=lambda timeline: HealthyButRefusingClock(timeline, down_between(2.0, 6.0)),
        critical_names=["deliberate"],
    )
    return drill, clock


def test_a_drill_that_counts_its_critical_endpoints_times_the_refusals_health_missed(
    tmp_path: Path,
) -> None:
    drill, clock = _drill_with_a_critical_endpoint(tmp_path)
    drill.begin(baseline_seconds=2.0)
    drill.count_critical_endpoints_in_rto()
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(noop_step(clock, 1.0))
    m = drill.wait_until_recovered()
    assert m.rto_seconds == pytest.approx(4.0)
    drill.finish()


def test_without_counting_them_only_the_health_probes_decide(tmp_path: Path) -> None:
    drill, _ = _drill_with_a_critical_endpoint(tmp_path)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    assert not drill.observe_no_outage(5.0).outage_observed
    drill.finish()


def test_counting_them_after_the_fault_is_refused(tmp_path: Path) -> None:
    drill, _ = _drill_with_a_critical_endpoint(tmp_path)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    with pytest.raises(InvalidDrill, match=r"before drill\.inject"):
        drill.count_critical_endpoints_in_rto()
    drill.finish()
