"""Findings beside the verdict: the shutdown-grace watcher reports a replica killed at the end of
its grace period (and nothing for one that stopped in time), the drill records it, the summary
prints it, and [findings] fail_on turns it into a failed drill (a scripted drill: the clock and
the target's health are played; the platform's timed stops are given)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from drillbook.companions.shutdown_watch import ShutdownWatch
from drillbook.config.loader import load_config
from drillbook.engine.drill import Drill
from drillbook.engine.record import record_of
from drillbook.errors import DrillFailed
from drillbook.platforms.local import LocalPlatform, Shutdown
from drillbook.platforms.supervisor_client import SupervisorClient
from drillbook.reporting.terminal import format_summary
from tests.unit.test_drill_engine import down_between, fault, make_drill, noop_step


def _platform() -> LocalPlatform:
    # Never connected: the watcher reads only the platform's record of its stops.
    return LocalPlatform(SupervisorClient("/nonexistent/supervisor.sock"), {})


def _stop(process: str, seconds: float, grace: float = 10.0) -> Shutdown:
    return Shutdown("app", process, "TERM", seconds, grace)


def test_a_replica_killed_at_the_end_of_its_grace_is_a_finding_with_its_evidence() -> None:
    platform = _platform()
    platform.shutdowns.append(_stop("app-9", 0.1))  # before the drill: not its business
    watch = ShutdownWatch(platform)
    watch.start(None)  # type: ignore[arg-type]
    platform.shutdowns += [_stop("app-0", 0.35), _stop("app-1", 10.01), _stop("app-2", 9.9)]
    (finding,) = watch.findings(None)  # type: ignore[arg-type]
    assert finding.kind == "shutdown-grace" and finding.component == "app"
    assert "(app-1, app-2)" in finding.summary and "SIGTERM" in finding.summary
    assert [s["process"] for s in finding.evidence["stops"]] == ["app-1", "app-2"]
    assert watch.figures()["killed_at_end_of_grace"] == ["app-1", "app-2"]


def test_replicas_that_stop_in_time_give_no_finding() -> None:
    platform = _platform()
    watch = ShutdownWatch(platform)
    watch.start(None)  # type: ignore[arg-type]
    platform.shutdowns += [_stop("app-0", 0.2), _stop("app-1", 1.5, grace=2.0)]
    assert watch.findings(None) == []  # type: ignore[arg-type]
    assert watch.figures()["stops"] == 2


def _drill_with_killed_replica(
    tmp_path: Path, *, fail_on: tuple[str, ...]
) -> tuple[Drill, ShutdownWatch]:
    config = load_config(None)
    config = dataclasses.replace(
        config, findings=dataclasses.replace(config.findings, fail_on=fail_on)
    )
    drill, clock, _ = make_drill(tmp_path, down_between(2.0, 6.0), config=config)
    platform = _platform()
    watch = ShutdownWatch(platform)
    drill.companions.append(watch)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(noop_step(clock, 1.0))
    platform.shutdowns.append(_stop("app-0", 10.02))  # the step's rolling restart, say
    drill.wait_until_recovered()
    drill.verify(window_seconds=0.5)
    return drill, watch


def test_the_drill_records_and_reports_the_finding_and_still_passes(tmp_path: Path) -> None:
    drill, _ = _drill_with_killed_replica(tmp_path, fail_on=())
    drill.assert_objectives()
    drill.finish()
    assert [f.kind for f in drill.findings] == ["shutdown-grace"]
    record = record_of(drill, nodeid="drills/x.py::test_x", outcome="passed")
    assert record.findings[0].evidence["stops"][0]["seconds"] == pytest.approx(10.02)
    assert record.to_json()["findings"][0]["kind"] == "shutdown-grace"
    text = "\n".join(format_summary([record]))
    assert "Finding (shutdown-grace) at app:" in text


def test_fail_on_makes_the_finding_fail_the_drill(tmp_path: Path) -> None:
    drill, _ = _drill_with_killed_replica(tmp_path, fail_on=("shutdown-grace",))
    with pytest.raises(DrillFailed, match=r"^Finding \(shutdown-grace\) at app: "):
        drill.assert_objectives()
    drill.finish()
