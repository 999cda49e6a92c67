"""Findings about a service of one's own, shown with purpose-built services: the notes service
with one defect (it ignores SIGTERM) is reported with the shutdown-grace finding and its
evidence; the notes service without it, and the stand-in, are not (no false alarm).

The drill is the plan's "capacity lost (scaled to zero)": its fault stops every running
replica, as `kubectl scale --replicas=0` does, and each stop is timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.drill_runs import run_drills
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

NOTES_CONFIG = REPO / "tests" / "services" / "notes.toml"
GRACE_SECONDS = 2
DRILL = "scaled"


def _config(tmp_path: Path, *, module: str) -> Path:
    """notes.toml with the service's module swapped and a short grace period."""
    text = NOTES_CONFIG.read_text(encoding="utf-8")
    text = text.replace("tests.services.notes_service", module)
    text = text.replace('grace_period = "3s"', f'grace_period = "{GRACE_SECONDS}s"')
    assert module in text and f'grace_period = "{GRACE_SECONDS}s"' in text
    path = tmp_path / f"{module.rsplit('.', 1)[-1]}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, config: Path | None) -> dict[str, Any]:
    runs = tmp_path / f"runs-{config.stem if config else 'stand-in'}"
    run = run_drills(runs, ["drills/monthly/test_application_failure.py"], DRILL, config)
    assert run["returncode"] == 0, run["output"]
    assert len(run["drills"]) == 1, [d["option"] for d in run["drills"]]
    return run


def test_a_service_that_ignores_sigterm_is_reported_with_its_evidence(tmp_path: Path) -> None:
    run = _run(tmp_path, _config(tmp_path, module="tests.services.stubborn_notes"))
    (drill,) = run["drills"]
    # The drill still passes: the service came back in time. The finding is beside it.
    assert drill["outcome"] == "passed"
    findings = drill["findings"]
    assert [f["kind"] for f in findings] == ["shutdown-grace"], findings
    assert findings[0]["component"] == "app"
    stops = findings[0]["evidence"]["stops"]
    assert len(stops) == 2, stops  # both running replicas, scaled to zero
    assert all(s["signal"] == "SIGTERM" for s in stops)
    assert all(s["seconds"] >= GRACE_SECONDS - 0.2 for s in stops), stops
    assert all(s["grace_seconds"] == GRACE_SECONDS for s in stops), stops
    assert "Finding (shutdown-grace) at app:" in run["stdout"]


def test_the_same_service_without_the_defect_gives_no_finding(tmp_path: Path) -> None:
    run = _run(tmp_path, _config(tmp_path, module="tests.services.notes_service"))
    (drill,) = run["drills"]
    assert drill["outcome"] == "passed"
    assert drill["findings"] == [], drill["findings"]
    assert drill["companions"]["shutdown"]["stops"] == 2
    assert drill["companions"]["shutdown"]["slowest_seconds"] < GRACE_SECONDS - 0.2


def test_the_stand_in_gives_no_finding(tmp_path: Path) -> None:
    run = _run(tmp_path, None)
    (drill,) = run["drills"]
    assert drill["outcome"] == "passed"
    assert drill["findings"] == [], drill["findings"]
    assert drill["companions"]["shutdown"]["stops"] >= 2
