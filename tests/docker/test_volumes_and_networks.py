"""The Docker platform's storage and network faults, on the reference Compose project, undone
after the runner that injected them died: a runner (a child process, as a drill injects: the
undo journaled first) cuts the API's containers off the project's network and loses
PostgreSQL's named volume, then is SIGKILLed holding both faults. The front door is seen down,
the volume gone; `drillbook undo --config configs/compose.toml` in another process puts the
volume back from the copy taken before its removal (a row committed before the fault is there
again, not an empty database) and reconnects the API with its service alias; then the
project's containers, networks and volumes are as they were before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg

from drillbook.assembly.docker_target import journal_path
from drillbook.config.loader import load_config
from drillbook.engine.undo import UndoJournal
from drillbook.platforms.docker_engine import engine_address
from tests.docker.engine import (
    CONFIG,
    EVIDENCE_DSN,
    FRONT_DOOR,
    PROJECT,
    ROOT,
    EngineState,
    docker,
    project_containers,
    wait_for,
)

RUNNER_TIMEOUT_SECONDS = 180.0
BACK_TIMEOUT_SECONDS = 180.0
DOWN_TIMEOUT_SECONDS = 30.0
VOLUME = f"{PROJECT}_pgdata"
NETWORK = f"{PROJECT}_default"

# The runner: opens the target as a drill does, journals each undo before its fault, injects
# both, says what it did and dies holding them (nothing of it undoes anything).
RUNNER = """
import json, os, signal, sys
from drillbook.assembly.target import open_target
from drillbook.config.loader import load_config
from drillbook.platforms.docker_faults import lose_volume, partition_network

target = open_target(load_config(sys.argv[1]))
done = {}
for fault in (
    partition_network(target.platform, "app"),
    lose_volume(target.platform, "database", "pgdata"),
):
    target.journal.push(fault.undo)
    done[fault.name] = dict(fault.inject() or {})
print(json.dumps(done), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _front_door_ready() -> bool:
    try:
        return httpx.get(f"{FRONT_DOOR}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _app_on_network() -> dict[str, list[str]]:
    """Each API container on the project's network, with its DNS names there."""
    out = docker(
        "ps",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
        "--filter",
        "label=com.docker.compose.service=app",
        "--format",
        "{{.Names}}",
    )
    found = {}
    for name in out.split():
        networks = json.loads(
            docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", name)
        )
        if NETWORK in networks:
            endpoint = networks[NETWORK]
            found[name] = list(endpoint.get("Aliases") or []) + list(endpoint.get("DNSNames") or [])
    return found


def _volume_exists() -> bool:
    return VOLUME in docker("volume", "ls", "--format", "{{.Name}}").split()


def _marker_rows(marker: str) -> int | None:
    try:
        with psycopg.connect(EVIDENCE_DSN, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM drillbook_volume_marker WHERE marker = %s", (marker,)
            ).fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


def test_volume_and_partition_undone_after_the_runner_is_killed(
    compose_project: dict[str, str], tmp_path: Path
) -> None:
    before = EngineState.now()
    containers_before = project_containers()
    app_before = _app_on_network()
    assert len(app_before) == 2 and all("app" in n for n in app_before.values()), app_before
    marker = uuid.uuid4().hex
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drillbook_volume_marker (marker text)")
        conn.execute("INSERT INTO drillbook_volume_marker VALUES (%s)", (marker,))
    assert _marker_rows(marker) == 1

    config = load_config(CONFIG)
    assert config.docker.project is not None
    journal = UndoJournal(journal_path(config.docker.project, engine_address(None)))
    runner = subprocess.run(
        [sys.executable, "-c", RUNNER, str(CONFIG)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT_SECONDS,
        check=False,
    )
    assert runner.returncode == -signal.SIGKILL, runner.stdout + runner.stderr
    injected = json.loads(runner.stdout.strip().splitlines()[-1])
    print(f"faults injected by the killed runner: {injected}")
    assert injected["lose-database-volume"]["volume"] == VOLUME
    assert injected["lose-database-volume"]["copy_bytes"] > 1_000_000, injected
    assert sorted(injected["partition-app"]["disconnected"]) == sorted(app_before)

    # Both faults are in place, and nothing undid them: the journal says what is pending.
    assert not _volume_exists()
    assert not [n for n in project_containers() if n.startswith(f"{PROJECT}-postgres-")]
    assert _app_on_network() == {}
    wait_for(lambda: not _front_door_ready(), timeout=DOWN_TIMEOUT_SECONDS, what="outage seen")
    pending = {action.verb: action for _, action in journal.pending()}
    assert set(pending) == {"restore_volume", "reconnect_network"}, pending
    snapshot = Path(pending["restore_volume"].args["snapshot"])
    assert snapshot.is_file() and snapshot.stat().st_size > 1_000_000, snapshot

    undo = subprocess.run(
        [sys.executable, "-m", "drillbook.cli", "undo", "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert f"recreate volume {VOLUME} from its copy" in undo.stdout, undo.stdout
    assert f"connect app to network {NETWORK} again" in undo.stdout, undo.stdout
    took = wait_for(_front_door_ready, timeout=BACK_TIMEOUT_SECONDS, what="front door ready")
    print(f"front door ready {took:.1f} s after `drillbook undo` returned")

    # The data is the volume's own (the row from before the fault), not a fresh database.
    wait_for(lambda: _marker_rows(marker) == 1, timeout=60, what="the marker row back")
    assert not snapshot.exists(), "the copy is removed once the volume is back"
    # The API answers to its service name again on the project's network.
    app_after = _app_on_network()
    assert set(app_after) == set(app_before), app_after
    assert all("app" in names for names in app_after.values()), app_after
    labels = json.loads(docker("volume", "inspect", "--format", "{{json .Labels}}", VOLUME))
    assert labels.get("com.docker.compose.project") == PROJECT, labels
    assert not UndoJournal(journal.path).pending()

    def as_before() -> bool:
        return project_containers() == containers_before

    wait_for(as_before, timeout=BACK_TIMEOUT_SECONDS, what="every container as before")
    after = EngineState.now()
    assert after.networks == before.networks and after.volumes == before.volumes
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("DROP TABLE drillbook_volume_marker")
