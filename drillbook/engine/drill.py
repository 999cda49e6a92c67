"""The drill runner: inject -> detect -> recover -> verify, with the undo stack always drained.

A `Drill` is handed to a test by the `drill` fixture. The prober starts before the fault so the
baseline is known; every phase is a timeline event and a report step; every figure that a
verdict rests on is computed from the timeline by drillbook.core.recovery.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drillbook.config.durations import format_duration
from drillbook.config.model import DrillbookConfig, ProbingSettings, Tier
from drillbook.core.clock import Clock, SystemClock
from drillbook.core.companions import Companion, objective_breaches
from drillbook.core.findings import Finding, FindingSource
from drillbook.core.observer import DrillObserver, ObserverSet
from drillbook.core.platform import Platform
from drillbook.core.probe import Probe
from drillbook.core.recovery import RecoveryMeasurement, combine, measure_recovery
from drillbook.core.steps import Check, CheckResult, Fault, RecoveryStep
from drillbook.core.timeline import (
    Event,
    EventKind,
    SampleStatus,
    Timeline,
    describe_sample,
    describe_unhealthy,
)
from drillbook.core.undo import UndoOutcome
from drillbook.engine.interrupt import raise_if_stop_requested
from drillbook.engine.stop import StopCheck, StopWatch, error_rate_check
from drillbook.engine.undo import UndoStack
from drillbook.errors import (
    DataLossDetected,
    DrillAborted,
    DrillFailed,
    InvalidDrill,
    ObjectiveBreached,
    RecoveryTimeout,
    VerificationFailed,
)


class Prober(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass(frozen=True)
class ProbeSet:
    """The target's probes, for one-shot checks during verification."""

    health: Sequence[Probe] = ()
    critical: Sequence[Probe] = ()


@dataclass(frozen=True)
class DrillIdentity:
    """What the drill is, for reports: the plan's scenario, the tier, the recovery option."""

    scenario: str
    tier: Tier
    option: str
    cadence: str
    title: str
    component: str = ""
    """The marker's component (a role or a name in the configuration): what the drill is
    about, for findings about a fault that takes no component down (damage)."""


class Drill:
    """One run of one scenario against one target."""

    def __init__(
        self,
        identity: DrillIdentity,
        *,
        config: DrillbookConfig,
        platform: Platform,
        prober: Prober,
        probe_names: Sequence[str],
        undo: UndoStack,
        timeline: Timeline | None = None,
        clock: Clock | None = None,
        observers: Sequence[DrillObserver[Drill]] = (),
        endpoints: ProbeSet | None = None,
        companions: Sequence[Companion[Drill]] = (),
        stop_checks: Sequence[StopCheck] = (),
        critical_names: Sequence[str] = (),
    ) -> None:
        self.identity = identity
        self._critical_names = list(critical_names)
        """The critical endpoints' probe names: sampled always, in the RTO when counted."""
        self.endpoints = endpoints or ProbeSet()
        self.companions = list(companions)
        self.config = config
        self.platform = platform
        self.timeline = timeline or Timeline()
        self.clock = clock or SystemClock()
        self.undo = undo
        self.probe_names = list(probe_names)
        self.observers = ObserverSet(observers)
        self.started_at = self.clock.monotonic()
        self.fault: Fault | None = None
        self.fault_at: float | None = None
        self.measurement: RecoveryMeasurement | None = None
        self.check_results: list[CheckResult] = []
        self.checks_not_run: dict[str, str] = {}
        """Checklist items this target cannot be checked for, and why (drillbook.engine.reach)."""
        self.undo_outcomes: list[UndoOutcome] = []
        self.objective_verdict: str | None = None
        self.findings: list[Finding] = []
        """Defects of the service the companions saw (drillbook.core.findings), reported beside
        the verdict; [findings] fail_on makes a kind fail the drill."""
        self.breaches: list[str] = []
        """Every objective breach found by `assert_objectives` ("RTO breach..."/"RPO breach...")."""
        self._prober = prober
        self.aborted: str | None = None
        """Why a stop condition aborted the drill (drillbook.engine.stop), None otherwise."""
        self._injecting = threading.Lock()
        """Held while a fault is injected: a stop waits for the injection to finish before it
        undoes it (an undo racing the kill it reverts would find replicas half killed)."""
        self._abort_undone = threading.Event()
        """Set once a stop's undo has run: the abort's report waits for it."""
        self.stopped: dict[str, Any] | None = None
        """The stop's figures for the record (drillbook.core.record.StopRecord)."""
        rate_check = error_rate_check(
            config.stop, self.timeline, self.probe_names, lambda: self.fault_at, self.clock
        )
        self._stop_watch = StopWatch(
            [*stop_checks, *([rate_check] if rate_check else [])],
            interval_seconds=config.probing.interval_seconds,
            on_stop=self._abort,
        )
        self._finished = False
        self._event(EventKind.DRILL_STARTED, identity.title)

    # -- bookkeeping ---------------------------------------------------------------------
    @property
    def probing(self) -> ProbingSettings:
        return self.config.probing

    @property
    def poll_seconds(self) -> float:
        return min(0.05, self.probing.interval_seconds / 2)

    def _event(self, kind: EventKind, name: str, **details: Any) -> Event:
        event = Event(
            at=self.clock.monotonic(),
            wall=self.clock.wall(),
            kind=kind,
            name=name,
            details=details,
        )
        self.timeline.add_event(event)
        return event

    def note(self, name: str, **details: Any) -> None:
        """Record something worth seeing in the timeline (a replica's ground truth, say)."""
        self._event(EventKind.NOTE, name, **details)

    @contextlib.contextmanager
    def phase(self, phase: str, title: str) -> Iterator[None]:
        """A named phase: a timeline pair of events and a report step."""
        self._event(EventKind.PHASE_STARTED, phase, title=title)
        self.observers.notify("phase_started", self, phase, title)
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._event(
                EventKind.PHASE_FINISHED, phase, error=None if error is None else repr(error)
            )
            self.observers.notify("phase_finished", self, phase, error)

    def _waiting(self, phase: str, limit: float) -> None:
        """Tell observers how long this wait has lasted since the fault, against its limit."""
        elapsed = self.clock.monotonic() - (self.fault_at or self.started_at)
        self.observers.notify("waiting", self, phase, elapsed, limit)

    def _measure(self) -> RecoveryMeasurement:
        if self.fault_at is None:
            raise InvalidDrill("no fault injected yet: call drill.inject(...) first")
        per_probe = [
            measure_recovery(
                self.timeline.samples_of(name),
                fault_at=self.fault_at,
                healthy_streak=self.probing.healthy_streak,
            )
            for name in self.probe_names
        ]
        return combine(per_probe)

    # -- the phases ----------------------------------------------------------------------
    def begin(self, *, baseline_seconds: float | None = None) -> None:
        """Start probing and require a healthy steady state before anything is injected."""
        seconds = (
            baseline_seconds
            if baseline_seconds is not None
            else max(1.0, self.probing.interval_seconds * (self.probing.healthy_streak + 1))
        )
        with self.phase("baseline", f"steady state: target healthy for {seconds:.1f}s"):
            # Companions with a slow start-up (Locust's processes) launch first, so that it
            # overlaps the others' start instead of following it.
            for companion in self.companions:
                prepare = getattr(companion, "prepare", None)
                if callable(prepare):
                    prepare(self)
            self._prober.start()
            self._stop_watch.start()
            probing_since = self.clock.monotonic()
            started: list[tuple[Companion[Drill], float]] = []
            for companion in self.companions:
                companion.start(self)
                started.append((companion, self.clock.monotonic()))
            # The steady state is watched for `seconds` with every companion at work. A
            # companion whose start already waited on its own activity (the load waits for its
            # baseline of traffic) has been at work that long: that time counts, and only what
            # is missing is waited for (before, a full `seconds` more was slept each drill).
            now = self.clock.monotonic()
            at_work = min(
                [now - probing_since]
                + [_seconds_at_work(companion, now - returned) for companion, returned in started]
            )
            self._sleep(max(0.0, seconds - at_work))
            # The steady state is the last N samples of every probe: an old blip (a replica
            # still warming up) does not block the drill, a current problem does.
            n = self.probing.healthy_streak
            recent = [s for name in self.probe_names for s in self.timeline.samples_of(name)[-n:]]
            unhealthy = [s for s in recent if s.status is not SampleStatus.OK]
            if len(recent) < n * len(self.probe_names) or unhealthy:
                detail = (
                    f"{unhealthy[-1].status}: {unhealthy[-1].detail or unhealthy[-1].http_status}"
                    if unhealthy
                    else "too few probe answers"
                )
                raise InvalidDrill(
                    f"the target is not healthy before the fault ({len(unhealthy)} of the last "
                    f"{len(recent)} baseline samples not ok; last: {detail}); nothing was "
                    "injected. Repair the target (or its probe conditions) and run again."
                )

    def count_critical_endpoints_in_rto(self) -> None:
        """Count the critical endpoints in this drill's detection and RTO, whatever `[probing]
        measure_critical_endpoints` says: for a fault only users' own calls show. After a
        leaked secret's rotation /health was ok 3 s before users with re-issued tokens got
        in, and an RTO of /health alone was 3 s short. Call it before `inject`."""
        if self.fault_at is not None:
            raise InvalidDrill(
                "count_critical_endpoints_in_rto() after the fault: the outage would be "
                "measured from samples of one kind and judged on another; call it before "
                "drill.inject(...)"
            )
        self.probe_names.extend(n for n in self._critical_names if n not in self.probe_names)

    def inject(self, fault: Fault) -> None:
        """Journal the fault's undo, then inject it; the fault time is taken just before."""
        if self.fault is not None:
            raise InvalidDrill("one fault per drill: split the scenario into several drills")
        self._raise_if_aborted()
        with self.phase("inject", f"inject: {fault.description}"), self._injecting:
            self.undo.push(fault.undo)
            self.fault = fault
            self.fault_at = self.clock.monotonic()
            details = fault.inject() or {}
            self.timeline.add_event(
                Event(
                    at=self.fault_at,
                    wall=self.clock.wall() - (self.clock.monotonic() - self.fault_at),
                    kind=EventKind.FAULT_INJECTED,
                    name=fault.name,
                    details=dict(details),
                )
            )

    def wait_until_detected(self, *, timeout: float | None = None) -> float:
        """Wait for the first unhealthy sample; returns the time to detect in seconds."""
        limit = timeout if timeout is not None else self.probing.detect_timeout_seconds
        with self.phase("detect", "detect: the probes see the outage"):
            assert self.fault_at is not None or self._measure()
            deadline = (self.fault_at or 0.0) + limit
            while True:
                measurement = self._measure()
                if measurement.detected_at is not None:
                    self._event(
                        EventKind.DETECTED,
                        "first unhealthy sample",
                        time_to_detect_seconds=measurement.time_to_detect_seconds,
                    )
                    return measurement.time_to_detect_seconds or 0.0
                self._waiting("detect", limit)
                self._raise_if_aborted()
                if self.clock.monotonic() >= deadline:
                    raise RecoveryTimeout(
                        f"the fault '{self.fault.name if self.fault else '?'}' was never "
                        f"detected: every probe stayed healthy for {format_duration(limit)} "
                        f"after injection ({measurement.samples_after_fault} samples). Either the "
                        "fault did not take effect or the probes do not see it."
                    )
                self.clock.sleep(self.poll_seconds)

    def observe_no_outage(self, seconds: float) -> RecoveryMeasurement:
        """For faults the target should absorb: probe for `seconds` and require no outage."""
        with self.phase("observe", f"observe: the service keeps serving for {seconds:.1f}s"):
            self._sleep(seconds)
            measurement = self._measure()
            self.measurement = measurement
            if measurement.outage_observed:
                raise DrillFailed(
                    f"the service was expected to absorb the fault but users saw an outage: "
                    f"{measurement.describe()}; {self._unhealthy_after_fault()}"
                )
            return measurement

    def outage_observed(self) -> bool:
        """Whether any probe has seen an unhealthy sample since the fault. A fault the service
        takes in its stride may show none (a rotated secret taken up within one probe interval):
        then there is nothing to wait to recover from, and `observe_no_outage` is the wait."""
        return self._measure().outage_observed

    def _unhealthy_after_fault(self) -> str:
        """The unhealthy samples users saw after the fault: when, which probe, and why."""
        assert self.fault_at is not None
        after = [
            s
            for s in self.timeline.samples
            if s.probe in self.probe_names and s.sent_at >= self.fault_at
        ]
        return describe_unhealthy(after, fault_at=self.fault_at)

    def recover(self, *steps: RecoveryStep) -> None:
        """Run the plan's recovery steps in order."""
        with self.phase("recover", "recover: " + "; ".join(s.command for s in steps)):
            for step in steps:
                self._raise_if_aborted()
                self._event(EventKind.RECOVERY_STARTED, step.name, command=step.command)
                try:
                    details = step.run() or {}
                except Exception:
                    # A step the stop's undo pulled the ground from under: the abort is the news.
                    self._raise_if_aborted()
                    raise
                self._event(EventKind.RECOVERY_FINISHED, step.name, **dict(details))
            self._raise_if_aborted()

    def wait_until_recovered(self, *, timeout: float | None = None) -> RecoveryMeasurement:
        """Wait until every probe is in a run of N or more healthy samples; the measurement."""
        limit = timeout if timeout is not None else self.probing.recover_timeout_seconds
        n = self.probing.healthy_streak
        with self.phase("recovered", f"wait until recovered: {n} consecutive healthy samples"):
            assert self.fault_at is not None or self._measure()
            deadline = (self.fault_at or 0.0) + limit
            while True:
                measurement = self._measure()
                if measurement.outage_observed and measurement.recovered_at is not None:
                    self.measurement = measurement
                    self._event(
                        EventKind.RECOVERED,
                        "recovered",
                        rto_seconds=measurement.rto_seconds,
                        error_bar_seconds=measurement.rto_error_bar_seconds,
                    )
                    return measurement
                self._waiting("recovered", limit)
                self._raise_if_aborted()
                if self.clock.monotonic() >= deadline:
                    self.measurement = measurement
                    last = [s for s in self.timeline.samples if s.probe in self.probe_names][-3:]
                    origin = self.fault_at or 0.0
                    seen = "; ".join(describe_sample(s, fault_at=origin) for s in last)
                    raise RecoveryTimeout(
                        f"the service did not recover within {format_duration(limit)} of the "
                        f"fault ({measurement.describe()}); last samples: {seen or 'none'}"
                    )
                self.clock.sleep(self.poll_seconds)

    def verify(self, *checks: Check, window_seconds: float | None = None) -> list[CheckResult]:
        """Run the plan's verification checklist after recovery; all must pass."""
        window = (
            window_seconds
            if window_seconds is not None
            else self.config.verification.window_seconds
        )
        with self.phase("verify", "verify: " + ", ".join(_check_name(c) for c in checks)):
            # Watch the recovered service for a while before judging it (error rates, relapses).
            if self.measurement is not None and self.measurement.recovered_at is not None:
                remaining = self.measurement.recovered_at + window - self.clock.monotonic()
                self._sleep(max(0.0, remaining))
            results = [check(self) for check in checks]
            self.check_results.extend(results)
            self._event(
                EventKind.VERIFIED,
                "verification",
                results={r.name: r.passed for r in results},
            )
            failed = [r for r in results if not r.passed]
            if failed:
                raise VerificationFailed(
                    "verification failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
                )
            return results

    def assert_objectives(self) -> None:
        """RTO against the tier's objective, and the data objectives (RPO) the companions judge;
        fails with the measured and the allowed figures ("RTO breach", "RPO breach")."""
        with self.phase("objectives", f"objectives: RTO for tier {self.identity.tier}"):
            measurement = self.measurement or self._measure()
            allowed = self.config.objectives.rto_for(self.identity.tier)
            rto = measurement.rto_seconds
            if rto is None:
                raise RecoveryTimeout(
                    f"no RTO: the service did not recover ({measurement.describe()})"
                )
            bar = measurement.rto_error_bar_seconds or 0.0
            verdict = (
                f"RTO {rto:.3f}s (error bar -{bar:.3f}s) against the {self.identity.tier} "
                f"objective {format_duration(allowed)}"
            )
            # The data objectives (RPO, zero evidence and configuration loss), judged by the
            # companions that measure them; every breach is reported, the RTO's too.
            breaches = objective_breaches(self.companions, self)
            self.collect_findings()
            self.objective_verdict = verdict + "".join(f"; {b}" for b in breaches)
            rto_breach = (
                f"RTO breach: measured {rto:.3f}s (error bar -{bar:.3f}s, the target may "
                f"have recovered up to that much earlier) exceeds the {self.identity.tier} "
                f"objective of {format_duration(allowed)} ({allowed:.0f}s) by "
                f"{rto - allowed:.3f}s"
            )
            self.breaches = ([rto_breach] if rto > allowed else []) + breaches
            if rto > allowed:
                raise ObjectiveBreached(rto_breach + "".join(f"; {b}" for b in breaches))
            # A companion that times recovery itself (pods on the server's clock) reports an
            # "RTO breach": a breached objective, not data loss.
            if any(b.startswith("RTO breach") for b in breaches):
                raise ObjectiveBreached("; ".join(breaches))
            if breaches:
                raise DataLossDetected("; ".join(breaches))
            failing = [f for f in self.findings if f.kind in self.config.findings.fail_on]
            if failing:
                raise DrillFailed(
                    "; ".join(f.describe() for f in failing)
                    + " ([findings] fail_on makes these kinds fail the drill)"
                )

    def finish(self) -> list[UndoOutcome]:
        """Stop probing and undo every fault. Always called, also after failures."""
        if self._finished:
            return self.undo_outcomes
        self._finished = True
        try:
            self._stop_watch.stop()
            self._prober.stop()
            for companion in self.companions:
                try:
                    companion.stop(self)
                except Exception as exc:  # a broken companion must not keep the undo from running
                    self.note(f"companion {companion.name} failed to stop", error=repr(exc))
            self.collect_findings()
        finally:
            # Even an interrupt (SIGTERM, Ctrl-C) arriving while companions stop must not skip
            # the undo: the fault would stay injected.
            self._unwind_undo()
        self._event(EventKind.DRILL_FINISHED, self.identity.title)
        self.observers.notify("drill_finished", self)
        return self.undo_outcomes

    def _abort(self, reason: str) -> None:
        """A stop condition fired (called from the stop watch's thread): undo the fault now,
        whatever the drill's own thread is doing; it raises DrillAborted at its next wait."""
        fired = self.clock.monotonic()
        self.aborted = reason
        outcomes: list[UndoOutcome] = []
        try:
            self.note("stop condition fired: drill aborted", reason=reason)
            with self._injecting:
                outcomes = self.undo.unwind()
            self.undo_outcomes.extend(outcomes)
            self.stopped = {
                "reason": reason,
                "fired_after_fault_seconds": (
                    None if self.fault_at is None else round(fired - self.fault_at, 4)
                ),
                "undone_seconds": round(self.clock.monotonic() - fired, 4),
                "fired_wall": self.clock.wall() - (self.clock.monotonic() - fired),
            }
        finally:
            self._abort_undone.set()  # whatever happened, the drill's thread must not hang
        for outcome in outcomes:
            self._event(
                EventKind.UNDO, outcome.action.description, ok=outcome.ok, error=outcome.error
            )

    def _raise_if_aborted(self) -> None:
        raise_if_stop_requested()
        if self.aborted is not None:
            # The stop watch may still be undoing: report what it did, not what it is doing.
            self._abort_undone.wait(self.probing.recover_timeout_seconds)
            undone = ", ".join(
                f"{o.action.description} ({'ok' if o.ok else o.error})" for o in self.undo_outcomes
            )
            raise DrillAborted(
                f"drill aborted by a stop condition: {self.aborted}; its fault was undone at "
                f"once: {undone or 'nothing was injected yet'}"
            )

    def _sleep(self, seconds: float) -> None:
        """Sleep in probe-interval slices, raising DrillAborted as soon as a stop fires."""
        deadline = self.clock.monotonic() + seconds
        while True:
            self._raise_if_aborted()
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(min(left, self.probing.interval_seconds))

    def _unwind_undo(self) -> None:
        if not len(self.undo):
            return
        with contextlib.suppress(Exception), self.phase("undo", "undo: revert every fault"):
            outcomes = self.undo.unwind()
            self.undo_outcomes.extend(outcomes)
            for outcome in outcomes:
                self._event(
                    EventKind.UNDO,
                    outcome.action.description,
                    ok=outcome.ok,
                    error=outcome.error,
                )

    def add_finding(self, finding: Finding) -> None:
        """A finding the drill's own steps saw (a companion reports its own through
        `findings`); reported like theirs, and failing the drill when [findings] fail_on
        names its kind."""
        if finding not in self.findings:
            self.findings.append(finding)
            self.note(f"finding: {finding.kind}", component=finding.component)

    def collect_findings(self) -> list[Finding]:
        """Every finding the companions report now (each once, in companion order)."""
        for companion in self.companions:
            if not isinstance(companion, FindingSource):
                continue
            try:
                found = companion.findings(self)
            except Exception as exc:  # a broken watcher must not break the drill's verdict
                self.note(f"companion {companion.name} could not report findings", error=repr(exc))
                continue
            for finding in found:
                if finding not in self.findings:
                    self.findings.append(finding)
        return self.findings

    # -- figures -------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """Every measured figure of the drill, for reports and assertions."""
        m = self.measurement
        allowed = self.config.objectives.rto_for(self.identity.tier)
        samples = [s for s in self.timeline.samples if s.probe in self.probe_names]
        counts = {str(status): 0 for status in SampleStatus}
        for s in samples:
            counts[str(s.status)] += 1
        return {
            "scenario": self.identity.scenario,
            "option": self.identity.option,
            "tier": self.identity.tier,
            "rto_objective_seconds": allowed,
            "rto_seconds": None if m is None else m.rto_seconds,
            "rto_error_bar_seconds": None if m is None else m.rto_error_bar_seconds,
            "time_to_detect_seconds": None if m is None else m.time_to_detect_seconds,
            "outage_seconds": None if m is None else m.outage_seconds,
            "outage_observed": None if m is None else m.outage_observed,
            "flaps": None if m is None else m.flaps,
            "relapses": None if m is None else m.relapses,
            "healthy_streak": self.probing.healthy_streak,
            "probe_interval_seconds": self.probing.interval_seconds,
            "samples": counts,
            "phases": self.phase_durations(),
            "checks": {
                r.name: {"passed": r.passed, "detail": r.detail} for r in self.check_results
            },
            "checks_not_run": dict(self.checks_not_run),
            "verdict": self.objective_verdict,
            **{c.name: dict(c.figures()) for c in self.companions},
        }

    def companion(self, name: str) -> Companion[Drill]:
        """A companion of this drill by name (e.g. "ledger", "load")."""
        for companion in self.companions:
            if companion.name == name:
                return companion
        known = ", ".join(c.name for c in self.companions) or "none"
        raise InvalidDrill(f"this drill has no companion {name!r} (it has: {known})")

    def phase_durations(self) -> dict[str, float]:
        started: dict[str, float] = {}
        durations: dict[str, float] = {}
        for event in self.timeline.events:
            if event.kind is EventKind.PHASE_STARTED:
                started[event.name] = event.at
            elif event.kind is EventKind.PHASE_FINISHED and event.name in started:
                durations[event.name] = round(event.at - started[event.name], 4)
        return durations


def _seconds_at_work(companion: Companion[Drill], since_start_returned: float) -> float:
    """How long `companion` has been fully at work: what it says (`seconds_at_work`), or the
    time since its start returned (its activity began then at the latest)."""
    reported = getattr(companion, "seconds_at_work", None)
    if callable(reported):
        value = reported()
        if isinstance(value, int | float):
            return max(0.0, float(value))
    return since_start_returned


def _check_name(check: Check) -> str:
    return getattr(check, "check_name", getattr(check, "__name__", "check"))
