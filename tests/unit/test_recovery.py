"""The RTO arithmetic, on invented samples: every rule of drillbook.core.recovery."""

from __future__ import annotations

import pytest

from drillbook.core.recovery import combine, measure_recovery
from drillbook.core.timeline import Sample, SampleStatus

OK, DOWN, ERR, THR = (
    SampleStatus.OK,
    SampleStatus.DOWN,
    SampleStatus.ERROR,
    SampleStatus.THROTTLED,
)
INTERVAL = 0.25


def series(
    statuses: list[SampleStatus],
    *,
    start: float = 0.0,
    probe: str = "health",
    latency: float = 0.0,
) -> list[Sample]:
    return [
        Sample(
            probe=probe,
            sent_at=start + i * INTERVAL,
            received_at=start + i * INTERVAL + latency,
            status=s,
        )
        for i, s in enumerate(statuses)
    ]


def test_plain_outage_and_recovery() -> None:
    # fault at t=1.0 (sample index 4); down from 1.0 to 2.0; ok from 2.25
    samples = series([OK] * 4 + [DOWN] * 5 + [OK] * 5)
    m = measure_recovery(samples, fault_at=1.0, healthy_streak=3)
    assert m.detected_at == pytest.approx(1.0)
    assert m.recovered_at == pytest.approx(2.25)
    assert m.rto_seconds == pytest.approx(1.25)
    assert m.rto_error_bar_seconds == pytest.approx(INTERVAL)
    assert m.time_to_detect_seconds == pytest.approx(0.0)
    assert m.outage_seconds == pytest.approx(1.25)
    assert m.flaps == 0


def test_samples_before_the_fault_are_ignored() -> None:
    samples = series([DOWN, DOWN, OK, OK, OK, DOWN, OK, OK, OK])
    m = measure_recovery(samples, fault_at=1.1, healthy_streak=3)
    assert m.detected_at == pytest.approx(1.25)
    assert m.recovered_at == pytest.approx(1.5)


def test_flapping_counts_only_a_full_streak() -> None:
    # down, ok, down, ok, ok, down, ok, ok, ok: the last streak of 3 decides
    samples = series([DOWN, OK, DOWN, OK, OK, DOWN, OK, OK, OK])
    m = measure_recovery(samples, fault_at=0.0, healthy_streak=3)
    assert m.flaps == 2
    assert m.recovered_at == pytest.approx(6 * INTERVAL)
    assert m.last_unhealthy_at == pytest.approx(5 * INTERVAL)
    assert m.rto_error_bar_seconds == pytest.approx(INTERVAL)


def test_a_healthy_run_that_relapses_was_not_the_recovery() -> None:
    # What a secret fault looks like when replicas drop their cached secret one by one: one
    # replica fails (detected), the other still answers for a moment (4 ok: longer than the
    # streak), then fails too; the service comes back for good at index 12.
    samples = series([DOWN, OK, OK, OK, OK, DOWN, DOWN, DOWN, DOWN, DOWN, DOWN, DOWN, OK, OK, OK])
    m = measure_recovery(samples, fault_at=0.0, healthy_streak=3)
    assert m.recovered_at == pytest.approx(12 * INTERVAL)
    assert m.rto_seconds == pytest.approx(3.0)
    assert m.last_unhealthy_at == pytest.approx(11 * INTERVAL)
    assert (m.flaps, m.relapses) == (1, 1)
    assert "1 flaps (1 after looking recovered)" in m.describe()


def test_in_a_relapse_the_service_is_not_recovered_yet() -> None:
    # Measured while it is down again: the earlier streak does not count; nor does a new run
    # shorter than the streak.
    down_again = series([DOWN, OK, OK, OK, DOWN, DOWN])
    assert measure_recovery(down_again, fault_at=0.0, healthy_streak=3).recovered_at is None
    coming_back = series([DOWN, OK, OK, OK, DOWN, OK, OK])
    m = measure_recovery(coming_back, fault_at=0.0, healthy_streak=3)
    assert m.recovered_at is None
    assert m.relapses == 1


def test_never_recovers() -> None:
    samples = series([OK, DOWN, DOWN, OK, DOWN, ERR, ERR])
    m = measure_recovery(samples, fault_at=0.2, healthy_streak=2)
    assert m.outage_observed
    assert not m.recovered
    assert m.rto_seconds is None
    assert m.rto_error_bar_seconds is None
    assert "not recovered" in m.describe()


def test_throttled_samples_neither_count_nor_break_and_widen_the_error_bar() -> None:
    samples = series([DOWN, DOWN, THR, OK, THR, OK, OK])
    m = measure_recovery(samples, fault_at=0.0, healthy_streak=3)
    assert m.throttled_samples == 2
    assert m.recovered_at == pytest.approx(3 * INTERVAL)
    # last unhealthy at 0.25; the throttled sample at 0.5 could hide the real recovery moment
    assert m.rto_error_bar_seconds == pytest.approx(2 * INTERVAL)


def test_only_throttled_after_the_fault_is_not_a_recovery() -> None:
    samples = series([DOWN, THR, THR, THR, THR])
    m = measure_recovery(samples, fault_at=0.0, healthy_streak=2)
    assert m.outage_observed and not m.recovered


def test_recovery_faster_than_the_probe_interval_is_no_observed_outage() -> None:
    # fault at 0.30, the next sample (0.5) is already ok: RTO 0, but an outage up to
    # 0.2 s could have gone unseen, and the report says so.
    samples = series([OK, OK, OK, OK, OK])
    m = measure_recovery(samples, fault_at=0.30, healthy_streak=3)
    assert not m.outage_observed
    assert m.rto_seconds == 0.0
    assert m.rto_error_bar_seconds == pytest.approx(0.20)
    assert "could go unseen" in m.describe()


def test_streak_of_one() -> None:
    samples = series([DOWN, OK])
    m = measure_recovery(samples, fault_at=0.0, healthy_streak=1)
    assert m.rto_seconds == pytest.approx(INTERVAL)


def test_invalid_streak() -> None:
    with pytest.raises(ValueError, match="healthy_streak"):
        measure_recovery([], fault_at=0.0, healthy_streak=0)


def test_combine_takes_the_probe_that_recovered_last() -> None:
    fast = measure_recovery(series([DOWN, OK, OK, OK, OK, OK]), fault_at=0.0, healthy_streak=2)
    slow = measure_recovery(
        series([DOWN, DOWN, DOWN, OK, OK, OK], probe="deep"), fault_at=0.0, healthy_streak=2
    )
    both = combine([fast, slow])
    assert both.recovered_at == slow.recovered_at
    assert both.detected_at == pytest.approx(0.0)


def test_combine_unrecovered_wins() -> None:
    ok = measure_recovery(series([DOWN, OK, OK]), fault_at=0.0, healthy_streak=2)
    stuck = measure_recovery(series([DOWN, DOWN, DOWN]), fault_at=0.0, healthy_streak=2)
    assert combine([ok, stuck]).rto_seconds is None


def test_recovery_is_when_the_first_healthy_answer_came_not_when_it_was_asked() -> None:
    """On kind the first probe to reach a new pod often waits 1 s for a retransmitted SYN.
    Timed from its sending, the RTO would end a second before the service was shown to serve,
    and users' requests sent in that second (some refused) would count as "after recovery"."""
    samples = series([OK] * 4 + [DOWN] * 5 + [OK] * 5, latency=0.01)
    slow_first = samples[9]
    samples[9] = Sample(
        probe="health",
        sent_at=slow_first.sent_at,
        received_at=slow_first.sent_at + 1.04,
        status=OK,
    )
    m = measure_recovery(samples, fault_at=1.0, healthy_streak=3)
    assert m.recovered_at == pytest.approx(2.25 + 1.04)
    assert m.rto_seconds == pytest.approx(1.25 + 1.04)
    # The true recovery lies between the last unhealthy sending and that answer.
    assert m.last_unhealthy_at == pytest.approx(2.0)
    assert m.rto_error_bar_seconds == pytest.approx(INTERVAL + 1.04)
    assert m.recovery_answer_seconds == pytest.approx(1.04)
    # Combined with a probe that recovered earlier, the later one decides, its answer too.
    early = measure_recovery(
        series([OK] * 4 + [DOWN] * 2 + [OK] * 8), fault_at=1.0, healthy_streak=3
    )
    both = combine([early, m])
    assert (
        both.recovered_at == m.recovered_at
        and both.recovery_answer_seconds == m.recovery_answer_seconds
    )
    # Detection keeps the sending of the first unhealthy sample: unhealthy then or later.
    assert m.detected_at == pytest.approx(1.0)
