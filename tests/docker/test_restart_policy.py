"""Docker's restart policy is part of what a drill measures: every API container crashes
(SIGKILL of its process). With `restart: unless-stopped` (ELEANOR's own compose file) the engine
brings them back by itself, and that self-recovery is timed at the front door; with
`restart: "no"` the outage lasts until the runbook acts (the plan's restart), however long one
waits."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.config.sections.allow import AllowSettings
from drillbook.platforms.docker import DockerComponent, DockerPlatform
from drillbook.platforms.docker_compose import ComposeProject
from drillbook.platforms.docker_engine import connect
from tests.docker.drill_runs import run_compose_drills
from tests.docker.engine import COMPOSE_FILE, FRONT_DOOR, PROJECT, compose, wait_for

DOWN_TIMEOUT_SECONDS = 10.0
SELF_RECOVERY_BOUND_SECONDS = 90.0
MIN_WATCH_SECONDS = 10.0


def _ready() -> bool:
    try:
        return httpx.get(f"{FRONT_DOOR}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _set_policy(policy: str) -> None:
    """The app service recreated with `restart: <policy>` (the Compose file reads
    ELEANOR_APP_RESTART), and awaited until healthy."""
    compose("up", "-d", "--no-deps", "--wait", "app", env={"ELEANOR_APP_RESTART": policy})
    wait_for(_ready, timeout=60, what="the front door ready after recreating app")


@pytest.fixture
def platform(compose_project: dict[str, str]) -> Iterator[DockerPlatform]:
    client = connect(None, timeout=30)
    project = ComposeProject(name=PROJECT, files=(str(COMPOSE_FILE),), workdir=None)
    app = DockerComponent(name="app", project=PROJECT, service="app", desired=2)
    docker_platform = DockerPlatform(client, {"app": app}, project)
    docker_platform.allow = AllowSettings(declared=True, compose_services=(f"{PROJECT}/app",))
    try:
        yield docker_platform
    finally:
        # Whatever happened, the service is back as the Compose file declares it.
        _set_policy("unless-stopped")
        docker_platform.close()


def _restart_counts(platform: DockerPlatform) -> dict[str, int]:
    counts = {}
    for container in platform.containers("app"):
        container.reload()
        counts[container.name] = int(container.attrs.get("RestartCount", 0))
    return counts


def test_unless_stopped_recovers_by_itself_and_no_waits_for_the_runbook(
    platform: DockerPlatform,
) -> None:
    assert os.environ.get("ELEANOR_JWT_SECRET"), "compose_project sets the API's secret"

    # restart: unless-stopped -- the engine restarts what crashed; nothing else acts.
    _set_policy("unless-stopped")
    restarts_before = _restart_counts(platform)
    crashed_at = time.monotonic()
    platform.kill("app", count="all")
    wait_for(lambda: not _ready(), timeout=DOWN_TIMEOUT_SECONDS, what="the outage seen")
    wait_for(
        _ready,
        timeout=SELF_RECOVERY_BOUND_SECONDS,
        what="self-recovery (unless-stopped)",
        every=0.1,
    )
    self_recovery = time.monotonic() - crashed_at  # from the crash to the front door ready
    restarts_after = _restart_counts(platform)
    assert all(restarts_after[n] > restarts_before[n] for n in restarts_before), (
        f"the engine's restart counts did not grow: {restarts_before} -> {restarts_after}"
    )
    print(f"restart unless-stopped: self-recovery {self_recovery:.2f} s after the crash")

    # restart: "no" -- the same crash stays an outage until the runbook acts.
    _set_policy("no")
    crashed_at = time.monotonic()
    platform.kill("app", count="all")
    wait_for(lambda: not _ready(), timeout=DOWN_TIMEOUT_SECONDS, what="the outage seen")
    watch = max(MIN_WATCH_SECONDS, 3 * self_recovery)
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline:
        assert not _ready(), "a service with restart policy 'no' came back by itself"
        time.sleep(0.25)
    assert platform.status("app").running == 0, platform.status("app")
    runbook_at = time.monotonic()
    platform.restart("app")  # the plan's rollout restart
    wait_for(_ready, timeout=SELF_RECOVERY_BOUND_SECONDS, what="recovery by the runbook", every=0.1)
    recovered_at = time.monotonic()
    print(
        f"restart no: still down {runbook_at - crashed_at:.2f} s after the crash (watched "
        f"{watch:.1f} s), recovered {recovered_at - runbook_at:.2f} s after the runbook started"
    )
    assert recovered_at - crashed_at > watch


def _all_replicas_drill(runs: Path) -> dict[str, Any]:
    """The monthly drill "all replicas lost, rollout restart", unchanged, on the project."""
    run = run_compose_drills(runs, ["drills/monthly/test_application_failure.py"], "all_replicas")
    assert [d["option"] for d in run["drills"]] == ["all replicas lost, rollout restart"], run[
        "output"
    ]
    drill: dict[str, Any] = run["drills"][0]
    assert drill["outcome"] == "passed", f"{drill['failure']}\n{run['output']}"
    return drill


def test_a_drill_finds_no_self_recovery_under_policy_no_only(
    platform: DockerPlatform, tmp_path: Path
) -> None:
    """The same drill twice: with `restart: "no"` the outage lasts until the runbook's restart
    and the drill reports the no-self-recovery finding with its evidence; with
    `unless-stopped` the engine's self-recovery is what the RTO times, and nothing is found."""
    _set_policy("no")
    drill = _all_replicas_drill(tmp_path / "policy-no")
    findings = [f for f in drill["findings"] if f["kind"] == "no-self-recovery"]
    assert len(findings) == 1, drill["findings"]
    finding = findings[0]
    assert finding["component"] == "app", finding
    stayed_down = finding["evidence"]["containers"]
    assert {s["container"] for s in stayed_down} == {"eleanor-app-1", "eleanor-app-2"}, finding
    rto = drill["rto"]
    for container in stayed_down:
        assert container["restart_policy"] == "no" and container["restart_count"] == 0
        assert container["back"] == "started by the runbook", container
        runbook_at = container["runbook_started_after_seconds"]
        # Down from the kill until the runbook's restart, at least: the outage users saw
        # lasted until the runbook acted.
        assert 0 < runbook_at <= container["down_seconds"], container
        assert rto["seconds"] >= runbook_at - rto["error_bar_seconds"], (rto, container)
    print(f"restart no: drill RTO {rto['seconds']:.2f} s, evidence {stayed_down}")

    _set_policy("unless-stopped")
    drill = _all_replicas_drill(tmp_path / "unless-stopped")
    assert not [f for f in drill["findings"] if f["kind"] == "no-self-recovery"], drill["findings"]
    rto = drill["rto"]
    assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    print(f"restart unless-stopped: drill RTO {rto['seconds']:.2f} s (self-recovery), no finding")
