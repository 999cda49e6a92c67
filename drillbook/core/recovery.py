"""Recovery arithmetic: detection time, RTO and its error bar, from probe samples.

Pure functions over samples so that every rule can be unit-tested with invented numbers.

The rules, chosen so that a green drill is a conservative statement:
- A sample describes the target at some moment between its sending and its answer. An unhealthy
  sample is placed at its send time (the target was unhealthy then or later), an ok one at its
  answer (the target served by then, and maybe not before: a probe whose connection took a
  1 s SYN retransmission to reach a new pod proves nothing about that second).
- Detection is the first unhealthy sample (down or error) sent at or after the fault.
- Recovery is the first sample of the run of ok samples the service is still in when it is
  measured, once that run is N samples long; RTO = the moment that sample was answered minus
  the fault time. A healthy run that ended in an unhealthy sample was not the recovery,
  however long: a fault that reaches replicas one by one (a secret each replica drops when its
  cache expires) can look healed for a moment and then fail again, and the outage users saw lasted
  until the service came back for good. Such runs are counted as flaps (relapses when they
  had reached N). The true moment of recovery lies after the last unhealthy sample before
  the run, so RTO is reported as an upper bound with an error bar down to that sample: the
  objective is checked against the upper bound.
- Throttled samples (HTTP 429) say nothing about health: they neither count towards the run of
  healthy samples nor break it, but they widen the error bar because they are skipped.
- If no unhealthy sample is seen after the fault, no outage was observed: RTO is 0 and the error
  bar is the gap to the first sample after the fault (an outage shorter than that could hide).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.core.timeline import UNHEALTHY, Sample, SampleStatus


@dataclass(frozen=True)
class RecoveryMeasurement:
    """What the samples say about one fault and its recovery. Times are monotonic seconds."""

    fault_at: float
    """When the fault was injected."""
    detected_at: float | None
    """Send time of the first unhealthy sample after the fault; None when no outage was seen."""
    recovered_at: float | None
    """When the first of N consecutive ok samples after detection was answered; None if not
    (yet). Its answer, not its sending: a slow first answer (a retransmitted SYN) says nothing
    of the moments before it, and requests users sent then may still have failed."""
    last_unhealthy_at: float | None
    """Send time of the last unhealthy sample before recovery: the lower end of the error bar."""
    healthy_streak: int
    """N, the number of consecutive ok samples that counts as recovered."""
    samples_after_fault: int
    throttled_samples: int
    """Samples classified throttled (429) after the fault: skipped, not trusted either way."""
    flaps: int
    """Returns to ok that ended in an unhealthy sample, between detection and recovery."""
    first_sample_after_fault_at: float | None
    relapses: int = 0
    """Those flaps that had lasted N samples: the service looked recovered, then failed again."""
    recovery_answer_seconds: float | None = None
    """How long the sample that marks the recovery took to be answered: part of the error bar
    (a retransmitted SYN to a new pod makes it about 1 s)."""

    @property
    def outage_observed(self) -> bool:
        return self.detected_at is not None

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None or not self.outage_observed

    @property
    def time_to_detect_seconds(self) -> float | None:
        return None if self.detected_at is None else self.detected_at - self.fault_at

    @property
    def rto_seconds(self) -> float | None:
        """Upper bound of the recovery time; 0 when no outage was observed; None if unrecovered."""
        if not self.outage_observed:
            return 0.0
        if self.recovered_at is None:
            return None
        return self.recovered_at - self.fault_at

    @property
    def rto_error_bar_seconds(self) -> float | None:
        """How much earlier than `rto_seconds` the target may really have recovered."""
        if not self.outage_observed:
            if self.first_sample_after_fault_at is None:
                return None
            return self.first_sample_after_fault_at - self.fault_at
        if self.recovered_at is None or self.last_unhealthy_at is None:
            return None
        return self.recovered_at - self.last_unhealthy_at

    @property
    def outage_seconds(self) -> float | None:
        """From the first unhealthy sample to recovery: the outage users saw."""
        if self.detected_at is None or self.recovered_at is None:
            return None
        return self.recovered_at - self.detected_at

    def describe(self) -> str:
        """One line for messages and reports."""
        if not self.outage_observed:
            bar = self.rto_error_bar_seconds
            hidden = f" (an outage shorter than {bar:.3f}s could go unseen)" if bar else ""
            return f"no outage observed after the fault{hidden}"
        if self.rto_seconds is None:
            return (
                f"detected after {self.time_to_detect_seconds:.3f}s, not recovered "
                f"({self.samples_after_fault} samples after the fault, {self.flaps} flaps)"
            )
        relapsed = f" ({self.relapses} after looking recovered)" if self.relapses else ""
        return (
            f"RTO {self.rto_seconds:.3f}s (-{self.rto_error_bar_seconds:.3f}s), "
            f"detected after {self.time_to_detect_seconds:.3f}s, {self.flaps} flaps{relapsed}, "
            f"{self.throttled_samples} throttled samples"
        )


def measure_recovery(
    samples: Sequence[Sample], *, fault_at: float, healthy_streak: int
) -> RecoveryMeasurement:
    """Measure detection and recovery of one probe's samples around a fault."""
    if healthy_streak < 1:
        raise ValueError(f"healthy_streak must be >= 1, got {healthy_streak}")
    after = sorted((s for s in samples if s.sent_at >= fault_at), key=lambda s: s.sent_at)
    throttled = sum(1 for s in after if s.status is SampleStatus.THROTTLED)
    judged = [s for s in after if s.status is not SampleStatus.THROTTLED]
    first_after = after[0].sent_at if after else None

    detected_index = next((i for i, s in enumerate(judged) if s.status in UNHEALTHY), None)
    if detected_index is None:
        return RecoveryMeasurement(
            fault_at=fault_at,
            detected_at=None,
            recovered_at=None,
            last_unhealthy_at=None,
            healthy_streak=healthy_streak,
            samples_after_fault=len(after),
            throttled_samples=throttled,
            flaps=0,
            first_sample_after_fault_at=first_after,
        )

    last_unhealthy_at = judged[detected_index].sent_at
    flaps = relapses = 0
    run_start: int | None = None
    for i in range(detected_index, len(judged)):
        sample = judged[i]
        if sample.status is SampleStatus.OK:
            if run_start is None:
                run_start = i
        else:
            if run_start is not None:
                flaps += 1
                relapses += i - run_start >= healthy_streak
            run_start = None
            last_unhealthy_at = sample.sent_at
    # The run the service is in now is the recovery once it is N samples long.
    recovery = (
        judged[run_start]
        if run_start is not None and len(judged) - run_start >= healthy_streak
        else None
    )

    return RecoveryMeasurement(
        fault_at=fault_at,
        detected_at=judged[detected_index].sent_at,
        recovered_at=None if recovery is None else recovery.received_at,
        last_unhealthy_at=last_unhealthy_at,
        healthy_streak=healthy_streak,
        samples_after_fault=len(after),
        throttled_samples=throttled,
        flaps=flaps,
        first_sample_after_fault_at=first_after,
        relapses=relapses,
        recovery_answer_seconds=None if recovery is None else recovery.latency_seconds,
    )


def combine(measurements: Sequence[RecoveryMeasurement]) -> RecoveryMeasurement:
    """The service is recovered when every probe is: take the latest recovery, earliest detection.

    The error bar is the one of the probe that recovered last, since that probe decides the RTO.
    """
    if not measurements:
        raise ValueError("no measurements to combine")
    if len(measurements) == 1:
        return measurements[0]
    observed = [m for m in measurements if m.outage_observed]
    if not observed:
        return min(measurements, key=lambda m: m.first_sample_after_fault_at or float("inf"))
    unrecovered = [m for m in observed if m.recovered_at is None]
    deciding = unrecovered[0] if unrecovered else max(observed, key=lambda m: m.recovered_at or 0.0)
    earliest_detection = min(m.detected_at for m in observed if m.detected_at is not None)
    return RecoveryMeasurement(
        fault_at=deciding.fault_at,
        detected_at=earliest_detection,
        recovered_at=deciding.recovered_at,
        last_unhealthy_at=deciding.last_unhealthy_at,
        healthy_streak=deciding.healthy_streak,
        samples_after_fault=sum(m.samples_after_fault for m in measurements),
        throttled_samples=sum(m.throttled_samples for m in measurements),
        flaps=sum(m.flaps for m in measurements),
        relapses=sum(m.relapses for m in measurements),
        recovery_answer_seconds=deciding.recovery_answer_seconds,
        first_sample_after_fault_at=min(
            (m.first_sample_after_fault_at for m in measurements if m.first_sample_after_fault_at),
            default=None,
        ),
    )
