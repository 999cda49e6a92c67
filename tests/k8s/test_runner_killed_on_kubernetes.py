"""The runner killed outright (SIGKILL, with every process of its own) during the Kubernetes
Secret drill, its machine's cache thrown away with it: the cluster's own undo record
(drillbook.platforms.kube_journal, a ConfigMap) is all that is left, and it is enough.

In each phase of the drill (the JWT Secret deleted, the outage detected, the runbook under way,
the undo under way) the runner is killed, its DRILLBOOK_CACHE removed, and the next command runs
with a fresh cache, as a runner on another machine would: `drillbook undo --config`,
`drillbook halt --config`, or the next drill run. Each leaves the Secret back as it was, the
cluster's record with no undo pending, and the cluster's Lease free.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drillbook.platforms.kube_connect import KubeConnection, connect
from drillbook.platforms.kube_journal import ClusterJournal
from drillbook.platforms.kube_lease import LeaseApi, ServerClock, lease_state
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.deploy import REPO
from tests.k8s.test_drills_on_kubernetes import break_glass_env

pytestmark = [pytest.mark.integration]

NAMESPACE = "eleanor-v8"
SECRET = "eleanor-v8-jwt-secret"
DRILL = "test_secret_deleted_recovered_by_restoring_it"
UNDO = (
    f"restore {NAMESPACE}/secret/{SECRET}#jwt-secret in kubernetes: from the copy kept in the "
    "cluster"
)
LOCK_DURATION = 4.0
PHASE_SECONDS = 180.0
EXPIRY_SECONDS = LOCK_DURATION + 15.0


@pytest.fixture
def connection(local_k8s: LocalKubernetes) -> Iterator[KubeConnection]:
    opened = connect(str(local_k8s.kubeconfig), "primary")
    try:
        yield opened
    finally:
        opened.close()


def _record(connection: KubeConnection) -> ClusterJournal:
    return ClusterJournal(connection.api, namespace=NAMESPACE, context="primary", request_timeout=5)


def _secret_digest(connection: KubeConnection) -> str | None:
    """The Secret's data as a digest (never the value), None when it does not exist."""
    from kubernetes import client

    try:
        secret = client.CoreV1Api(connection.api).read_namespaced_secret(SECRET, NAMESPACE)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return hashlib.sha256(json.dumps(secret.data, sort_keys=True).encode()).hexdigest()


def _config(local_k8s: LocalKubernetes, tmp_path: Path) -> Path:
    """configs/kwok-local.toml with a short drill lock, so a dead runner's Lease expires soon."""
    text = KWOK_CONFIG.read_text()
    assert text.count("[kubernetes]\n") == 1
    path = tmp_path / "kwok-short-lock.toml"
    path.write_text(
        text.replace("[kubernetes]\n", f'[kubernetes]\nlock_duration = "{LOCK_DURATION:g}s"\n')
    )
    return path


def _env(local_k8s: LocalKubernetes, cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        **break_glass_env(),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "KUBECONFIG": str(local_k8s.kubeconfig),
        "DRILLBOOK_CACHE": str(cache),
    }


def _secret_undo_in_cluster(connection: KubeConnection) -> Callable[[list[str]], bool]:
    """The Secret's undo is in the cluster's record: the fault comes next. (The app's env, set
    by the secrets fixture before the drill, is journaled before it.)"""
    return lambda lines: UNDO in {e["description"] for e in _record(connection).pending()}


def _said(text: str) -> Callable[[list[str]], bool]:
    return lambda lines: any(text in line for line in lines)


def _run_until(
    reached: Callable[[list[str]], bool], phase: str, config: Path, env: dict[str, str], out: Path
) -> list[str]:
    """Start the drill; SIGKILL the runner's process group (Locust with it) in `phase`."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly/test_secrets_failure.py",
            "-k",
            DRILL,
            "-p",
            "no:cacheprovider",
            f"--drillbook-config={config}",
            f"--alluredir={out / 'results'}",
            f"--drillbook-runs-dir={out / 'runs'}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + PHASE_SECONDS
    try:
        while not reached(list(lines)):
            assert process.poll() is None, f"the run ended before {phase}:\n" + "".join(lines)
            assert time.monotonic() < deadline, f"never reached {phase}:\n" + "".join(lines)
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already: the assertion says why
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    return lines


def _drillbook(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


CLOCK_SPREAD_SECONDS = 1.0
"""How far two processes' estimates of the API server's clock can differ: each reads the Date
header (whole seconds) and guesses the middle of that second, so each is within 0.5 s."""


def _wait_for_expiry(connection: KubeConnection) -> float:
    """The dead runner's Lease expires by itself; how long that took from now. Expired as any
    process sees it: judged by a clock estimate that may lag the test's by the whole spread,
    so the `drillbook halt` that follows (a process with its own estimate) finds no holder."""
    leases = LeaseApi(connection.api, namespace=NAMESPACE, context="primary", request_timeout=5)
    clock = ServerClock(connection.api, 5)
    started = time.monotonic()
    while True:
        record, _ = leases.read()
        lagging = clock.now() - CLOCK_SPREAD_SECONDS
        if record is None or lease_state(record, me="", now=lagging) != "held":
            break
        assert time.monotonic() - started < EXPIRY_SECONDS, "the dead runner's Lease never expired"
        time.sleep(0.25)
    return time.monotonic() - started


def test_a_runner_killed_in_any_phase_of_a_secret_drill_is_undone_from_the_clusters_record(
    local_k8s: LocalKubernetes, connection: KubeConnection, tmp_path: Path
) -> None:
    config = _config(local_k8s, tmp_path)
    original = _secret_digest(connection)
    assert original is not None, f"Secret {NAMESPACE}/{SECRET} is not deployed"
    assert _record(connection).pending() == [], "an undo was pending before the test"
    phases: dict[str, tuple[Callable[[list[str]], bool], str]] = {
        "injected": (_secret_undo_in_cluster(connection), "undo"),
        "detected": (_said("outage detected"), "halt"),
        "recovering": (_said("recover: "), "undo"),
        "undoing": (_said("undo: revert every fault"), "next run"),
    }
    restored: list[str] = []
    for number, (phase, (reached, how)) in enumerate(phases.items()):
        dead_cache = tmp_path / f"cache-{number}-dead"
        _run_until(reached, phase, config, _env(local_k8s, dead_cache), tmp_path / phase)
        pending = [e["description"] for e in _record(connection).pending()]
        missing = _secret_digest(connection) is None
        # The dead runner's machine is gone with its cache: only the cluster remembers.
        shutil.rmtree(dead_cache)
        fresh = _env(local_k8s, tmp_path / f"cache-{number}-fresh")
        expiry = _wait_for_expiry(connection)
        if how == "undo":
            done = _drillbook(fresh, "undo", "--config", str(config))
            output = done.stdout + done.stderr
            assert done.returncode == 0, output
            assert all(f"undone: {d}" in done.stdout for d in pending), (pending, output)
        elif how == "halt":
            done = _drillbook(fresh, "halt", "--config", str(config), "--wait", "30")
            output = done.stdout + done.stderr
            assert done.returncode == 0, output
            assert "no drill holds kube context 'primary'" in done.stdout, output
            assert all(f"undone: {d}" in done.stdout for d in pending), (pending, output)
        else:
            out = tmp_path / "next-run"
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "drills/monthly/test_secrets_failure.py",
                    "-k",
                    DRILL,
                    "-p",
                    "no:cacheprovider",
                    f"--drillbook-config={config}",
                    f"--alluredir={out / 'results'}",
                    f"--drillbook-runs-dir={out / 'runs'}",
                ],
                cwd=REPO,
                env=fresh,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            output = done.stdout + done.stderr
            assert done.returncode == 0, output[-6000:]
            assert "1 passed" in done.stdout, output[-6000:]
        assert _secret_digest(connection) == original, f"{phase}: Secret not put back\n{output}"
        assert _record(connection).pending() == [], f"{phase}: undo still pending\n{output}"
        restored.append(
            f"{phase} ({len(pending)} pending, Secret {'deleted' if missing else 'present'}, "
            f"lease expired after {expiry:.1f} s, by {how})"
        )
    print(f"phases tried: {len(phases)}; restored: {len(restored)}: {'; '.join(restored)}")
    assert len(restored) == len(phases)
