"""Stop conditions: the first that fires undoes the fault at once (from the watch's thread) and
the drill raises DrillAborted at its next wait; the error-rate bound waits out the expected
outage; a halt request is a file beside the journal."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.config.model import StopSettings
from drillbook.core.clock import FakeClock
from drillbook.core.timeline import Sample, SampleStatus, Timeline
from drillbook.engine.stop import StopWatch, error_rate_check, halt_check, halt_request_path
from drillbook.errors import DrillAborted
from tests.unit.test_drill_engine import down_between, fault, make_drill


def test_the_first_check_that_fires_stops_the_watch_once() -> None:
    fired: list[str] = []
    armed = threading.Event()
    watch = StopWatch(
        [lambda: None, lambda: "alarm firing" if armed.is_set() else None],
        interval_seconds=0.01,
        on_stop=fired.append,
    )
    watch.start()
    time.sleep(0.05)
    assert fired == []
    armed.set()
    deadline = time.monotonic() + 2
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.stop()
    assert fired == ["alarm firing"] and watch.fired == "alarm firing"


def test_an_unreachable_alarm_is_recorded_not_fired() -> None:
    def unreachable() -> str | None:
        raise ConnectionError("refused")

    watch = StopWatch([unreachable], interval_seconds=0.01, on_stop=lambda r: None)
    watch.start()
    time.sleep(0.05)
    watch.stop()
    assert watch.fired is None and "refused" in watch.check_errors[0]


def _samples(timeline: Timeline, start: float, end: float, status: SampleStatus) -> None:
    t = start
    while t < end:
        timeline.add_sample(Sample("health", t, t + 0.01, status))
        t += 0.25


def test_the_error_rate_bound_waits_out_the_expected_outage() -> None:
    settings = StopSettings(
        error_rate_max=0.5, error_window_seconds=5.0, expected_outage_seconds=10.0
    )
    timeline = Timeline()
    clock = FakeClock(start=0.0)
    check = error_rate_check(settings, timeline, ["health"], lambda: 1.0, clock)
    assert check is not None
    _samples(timeline, 1.0, 11.0, SampleStatus.DOWN)
    clock.advance(10.5)  # down all along, but within the expected outage
    assert check() is None
    _samples(timeline, 11.0, 16.0, SampleStatus.DOWN)
    clock.advance(5.0)
    reason = check()
    assert reason is not None and "above stop.error_rate_max 0.5" in reason


def test_no_bound_no_check() -> None:
    clock = FakeClock(start=0.0)
    assert error_rate_check(StopSettings(), Timeline(), ["health"], lambda: 0.0, clock) is None


def test_a_halt_request_is_a_file_beside_the_journal(tmp_path: Path) -> None:
    request = halt_request_path(tmp_path / "undo-journal.jsonl")
    check = halt_check(request)
    assert check() is None
    request.write_text("pid 42 on host-a at 10:00\n")
    assert check() == "halted: pid 42 on host-a at 10:00"


def test_a_stop_undoes_the_fault_at_once_and_aborts_the_drill(tmp_path: Path) -> None:
    armed = threading.Event()
    drill, _, platform = make_drill(
        tmp_path,
        down_between(2.0, 1e9),  # never recovers by itself
        stop_checks=[lambda: "alarm HighErrorRate firing" if armed.is_set() else None],
    )
    drill.begin(baseline_seconds=1.0)
    drill.inject(fault())
    drill.wait_until_detected()
    armed.set()
    deadline = time.monotonic() + 2
    while drill.aborted is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # Undone by the watch's thread, before the drill's own thread looked again.
    assert [a.verb for a in platform.undone] == ["reconcile"]
    with pytest.raises(DrillAborted, match=r"alarm HighErrorRate firing.*restart app \(ok\)"):
        drill.wait_until_recovered()
    drill.finish()
    assert len(platform.undone) == 1  # not undone twice
    assert [o.ok for o in drill.undo_outcomes] == [True]


def test_stop_settings_reach_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    path.write_text(
        '[stop]\nerror_rate_max = 0.3\nexpected_outage = "2m"\n'
        '[[stop.alarms]]\nname = "errors"\nurl = "http://127.0.0.1:9/alarm"\n'
        "conditions = ['state == \"firing\"']\n"
        '[[target.probes]]\nname = "health"\npath = "/health"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.stop.error_rate_max == 0.3 and config.stop.expected_outage_seconds == 120
    (alarm,) = config.stop.alarms
    assert alarm.name == "errors" and alarm.conditions[0].source == 'state == "firing"'
    assert dataclasses.replace(config.stop, alarms=()).alarms == ()
