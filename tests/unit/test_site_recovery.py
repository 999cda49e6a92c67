"""The site recovery companion judges each service's return at the new site against its tier and
the whole restoration against rto_full, and the summary prints its figures (a scripted drill:
the clock and the target's health are played, the companion and the judgement are real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.core.clock import FakeClock
from drillbook.core.steps import RecoveryStep
from drillbook.engine.record import record_of
from drillbook.errors import ObjectiveBreached
from drillbook.reporting.terminal import format_summary
from drillbook.scenarios.sites.companion import SiteRecovery
from tests.unit.test_drill_engine import down_between, fault, make_drill


def _step(name: str, clock: FakeClock, seconds: float) -> RecoveryStep:
    return RecoveryStep(name, f"# {name}", lambda: clock.sleep(seconds))


def _run(tmp_path: Path, *, rto_full: float, app_objective: float = 900.0) -> SiteRecovery:
    drill, clock, _ = make_drill(tmp_path, down_between(2.0, 9.0))
    companion = SiteRecovery(
        rto_full, {"database": 900.0, "vector_store": 3600.0, "app": app_objective}
    )
    drill.companions.append(companion)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(
        _step("promote the database at dr", clock, 1.0),
        _step("restore Weaviate at dr from the off-site backup", clock, 2.0),
        _step("start the application at dr", clock, 2.0),
    )
    drill.wait_until_recovered()
    drill.verify(window_seconds=0.5)
    try:
        drill.assert_objectives()
    finally:
        drill.finish()
    return companion


def test_each_service_and_the_whole_restoration_are_timed_from_the_fault(
    tmp_path: Path,
) -> None:
    companion = _run(tmp_path, rto_full=4 * 3600)
    figures = companion.figures()
    ready = figures["services_ready_after_seconds"]
    # The steps end 1, 3 and 5 s after the runbook began (detection took the first samples).
    assert ready["vector_store"] - ready["database"] == pytest.approx(2.0)
    assert ready["app"] - ready["vector_store"] == pytest.approx(2.0)
    assert figures["runbook_steps_seconds"]["start the application at dr"] == pytest.approx(2.0)
    assert figures["full_restoration_seconds"] >= ready["app"]
    assert figures["service_rto_objectives_seconds"]["vector_store"] == 3600.0


def test_a_service_back_later_than_its_tier_allows_is_an_rto_breach(tmp_path: Path) -> None:
    with pytest.raises(ObjectiveBreached, match=r"RTO breach: app served again at the new site"):
        _run(tmp_path, rto_full=4 * 3600, app_objective=1.0)


def test_a_restoration_longer_than_rto_full_is_an_rto_breach(tmp_path: Path) -> None:
    with pytest.raises(ObjectiveBreached, match=r"full service restoration took .* \(rto_full\)"):
        _run(tmp_path, rto_full=3.0)


def test_the_summary_prints_the_site_figures(tmp_path: Path) -> None:
    drill, clock, _ = make_drill(tmp_path, down_between(2.0, 6.0))
    companion = SiteRecovery(4 * 3600, {"database": 900.0})
    drill.companions.append(companion)
    drill.begin(baseline_seconds=2.0)
    drill.inject(fault())
    drill.wait_until_detected()
    drill.recover(_step("promote the database at dr", clock, 1.0))
    drill.wait_until_recovered()
    drill.verify(window_seconds=0.5)
    drill.assert_objectives()
    drill.finish()
    record = record_of(drill, nodeid="drills/quarterly/x.py::test_x", outcome="passed")
    text = "\n".join(format_summary([record]))
    assert "services back after database" in text
    assert "full restoration" in text and "/ 4h" in text
    assert load_config(None).objectives.rto_full_seconds == 4 * 3600
