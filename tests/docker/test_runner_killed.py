"""Every fault is undone on Docker, also when the runner dies mid-drill: the scaled-to-zero
drill is SIGKILLed (with its Locust processes) while the app service has no container, then
`drillbook undo --config configs/compose.toml` puts the service back; the project's containers,
volumes and networks are then as they were before the drill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from drillbook.assembly.docker_target import journal_path
from drillbook.config.loader import load_config
from drillbook.engine.undo import UndoJournal
from drillbook.platforms.docker_engine import connect, engine_address
from tests.docker.engine import (
    CONFIG,
    PROJECT,
    ROOT,
    EngineState,
    project_containers,
    wait_for,
)

FAULT_TIMEOUT_SECONDS = 120.0
BACK_TIMEOUT_SECONDS = 120.0


def _app_containers() -> dict[str, str]:
    return {n: s for n, s in project_containers().items() if n.startswith("eleanor-app-")}


def _healthy_app() -> bool:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            "label=com.docker.compose.service=app",
            "--filter",
            "health=healthy",
            "--format",
            "{{.Names}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return len(out) == 2


def test_faults_undone_after_the_runner_is_killed(
    compose_project: dict[str, str], tmp_path: Path
) -> None:
    before = EngineState.now()
    containers_before = project_containers()
    assert len(_app_containers()) == 2, containers_before

    log = tmp_path / "runner.log"
    with open(log, "wb") as output:
        runner = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "drills/monthly/test_application_failure.py",
                "-k",
                "scaled_to_zero",
                "--drillbook-config",
                str(CONFIG),
                "--drillbook-runs-dir",
                str(tmp_path / "runs"),
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the runner and its Locust processes
        )

    config = load_config(CONFIG)
    assert config.docker.project is not None
    journal = UndoJournal(journal_path(config.docker.project, engine_address(None)))
    client = connect(None, timeout=30)
    labels = [f"com.docker.compose.project={PROJECT}", "com.docker.compose.service=app"]

    def running_app() -> int:
        found = client.containers.list(filters={"label": labels, "status": "running"}, sparse=True)
        return len(found)

    def faulted() -> bool:
        # The undo is journaled before the fault; from then on the scale-down is watched
        # closely: the recovery follows within seconds, and the runner must die before it.
        assert runner.poll() is None, "the runner ended before it was killed:\n" + log.read_text()
        return bool(journal.pending()) and running_app() == 0

    try:
        wait_for(faulted, timeout=FAULT_TIMEOUT_SECONDS, what="the scale-down", every=0.02)
        # Frozen at once (nothing of it runs on, its compose child included), then killed.
        os.killpg(runner.pid, signal.SIGSTOP)
        os.killpg(runner.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
        client.close()
    assert runner.returncode == -signal.SIGKILL

    # The runner died holding the fault: nothing undid it, the journal says what is pending.
    assert not any(state == "running" for state in _app_containers().values()), _app_containers()
    pending = [action.verb for _, action in journal.pending()]
    assert "scale" in pending, pending

    undo = subprocess.run(
        [sys.executable, "-m", "drillbook.cli", "undo", "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert "scale app back to 2" in undo.stdout, undo.stdout
    wait_for(_healthy_app, timeout=BACK_TIMEOUT_SECONDS, what="app back, 2 healthy containers")
    after = EngineState.now()
    assert project_containers() == containers_before
    assert after.networks == before.networks and after.volumes == before.volumes
    assert not UndoJournal(journal.path).pending()
