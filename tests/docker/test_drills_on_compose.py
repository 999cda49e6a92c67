"""The monthly drills, unchanged, on the reference Compose project (configs/compose.toml):
the application scenario (one replica lost, all lost, scaled to zero) and the database's pod
restart pass on containers, each with a measured RTO, and leave every container as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.docker.drill_runs import run_compose_drills
from tests.docker.engine import project_containers

EXPECTED = {
    "one replica lost, service keeps serving",
    "all replicas lost, rollout restart",
    "capacity lost (scaled to zero), kubectl scale",
    "A: database pod killed, pod restart",
}


@pytest.fixture(scope="module")
def compose_run(compose_project: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    before = project_containers()
    run = run_compose_drills(
        tmp_path_factory.mktemp("compose-runs"),
        ["drills/monthly/test_application_failure.py", "drills/monthly/test_database_failure.py"],
        "application or pod_killed",
    )
    return run, before, project_containers()


def test_application_and_database_drills_pass_on_compose(compose_run: Any) -> None:
    run, _, _ = compose_run
    drills = {d["option"]: d for d in run["drills"]}
    assert set(drills) == EXPECTED, run["output"]
    assert run["returncode"] == 0, run["output"]
    assert run["platform"] == "docker", run["platform"]
    for option, drill in sorted(drills.items()):
        assert drill["outcome"] == "passed", f"{option}: {drill['failure']}"
        rto = drill["rto"]
        # What the closing note compares with the embedded stack's figures.
        print(f"compose: {option}: outcome {drill['outcome']}, RTO {rto}, phases {drill['phases']}")
    for option in EXPECTED - {"one replica lost, service keeps serving"}:
        rto = drills[option]["rto"]
        assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    # The other replica served throughout: HAProxy took the dead one out of rotation.
    assert drills["one replica lost, service keeps serving"]["rto"]["outage_observed"] is False


def test_every_container_is_back_after_the_drills(compose_run: Any) -> None:
    _, before, after = compose_run
    assert set(after) == set(before), f"containers before {before}, after {after}"
    assert after == before, f"container states before {before}, after {after}"
