"""The runner killed mid-drill on kind: the scaled-to-zero drill (the quickest fault that changes
the Deployment) runs as a user runs it, in a pytest subprocess against configs/kind.toml; the
moment its fault is in (the cluster's undo record holds "scale app back to N replicas" and the
Deployment wants 0), the runner's whole process group (Locust with it) is SIGKILLed and its
machine's cache thrown away. `drillbook undo --config` from a fresh cache, with only the
cluster's own record (drillbook.platforms.kube_journal, a ConfigMap) to go on, puts the
Deployment back as deployed: the same spec, every pod Running and Ready, /health healthy, and
no undo pending in the record.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.platforms.kube_connect import KubeConnection, connect
from drillbook.platforms.kube_journal import ClusterJournal
from drillbook.platforms.kube_lease import LeaseApi, ServerClock, lease_state
from tests.kind.cluster import REPO, KindCluster
from tests.kind.test_application_drills_on_kind import deployed_replicas

CONFIG = REPO / "configs" / "kind.toml"
CONTEXT = "kind-drillbook-kind"
# The cluster's drill lock and undo record live in the first component's namespace (the app's).
NAMESPACE = "eleanor-v8"
DEPLOYMENT = "eleanor-v8"
HEALTH_URL = "http://127.0.0.1:8080/health"
# A short drill lock, so the dead runner's Lease expires in seconds instead of the default 60 s.
LOCK_SECONDS = 5.0
# The baseline before the fault: about 15 s on an idle cluster, more under load.
FAULT_TIMEOUT_SECONDS = 180.0
# Detection follows the fault within seconds, then the recovery: the poll must be quicker.
FAULT_POLL_SECONDS = 0.05
# Lease duration + the lock's clock margin + the spread of two processes' server-clock guesses.
EXPIRY_TIMEOUT_SECONDS = LOCK_SECONDS + 15.0
# Two pods scheduled, started and passing their readiness probes.
BACK_TIMEOUT_SECONDS = 180.0


@pytest.fixture
def connection(kind_cluster: KindCluster) -> Iterator[KubeConnection]:
    opened = connect(str(kind_cluster.kubeconfig), CONTEXT, request_timeout=5)
    try:
        yield opened
    finally:
        opened.close()


def _record(connection: KubeConnection) -> ClusterJournal:
    return ClusterJournal(connection.api, namespace=NAMESPACE, context=CONTEXT, request_timeout=5)


def _deployment_spec(connection: KubeConnection) -> dict[str, Any]:
    """The Deployment's spec as the API server holds it (JSON, as kubectl shows it)."""
    from kubernetes import client

    deployment = client.AppsV1Api(connection.api).read_namespaced_deployment(
        DEPLOYMENT, NAMESPACE, _request_timeout=5
    )
    # The client's JSON form (camelCase, as kubectl shows it); the client has no type hints.
    as_json: Any = connection.api.sanitize_for_serialization
    spec = as_json(deployment)["spec"]
    assert isinstance(spec, dict)
    return spec


def _short_lock_config(tmp_path: Path) -> Path:
    """configs/kind.toml with a short drill lock; everything else as users run it."""
    text = CONFIG.read_text()
    assert text.count("[kubernetes]\n") == 1, "configs/kind.toml has no single [kubernetes] table"
    assert "lock_duration" not in text, "configs/kind.toml sets lock_duration: adapt this test"
    path = tmp_path / "kind-short-lock.toml"
    path.write_text(
        text.replace("[kubernetes]\n", f'[kubernetes]\nlock_duration = "{LOCK_SECONDS:g}s"\n')
    )
    return path


def _env(kind_cluster: KindCluster, cache: Path) -> dict[str, str]:
    return {
        **kind_cluster.env(),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "DRILLBOOK_CACHE": str(cache),
    }


def _wait_for(condition: Callable[[], bool], *, timeout: float, what: str, every: float) -> float:
    """Poll `condition()` until true; the seconds it took, or AssertionError naming `what`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(every)
    return time.monotonic() - started


def _lease_expired(connection: KubeConnection) -> Callable[[], bool]:
    """The dead runner's Lease is no longer held, as a process whose estimate of the server's
    clock lags by a whole second sees it (each process reads whole-second Date headers)."""
    leases = LeaseApi(connection.api, namespace=NAMESPACE, context=CONTEXT, request_timeout=5)
    clock = ServerClock(connection.api, 5)

    def expired() -> bool:
        record, _ = leases.read()
        return record is None or lease_state(record, me="", now=clock.now() - 1.0) != "held"

    return expired


def _health() -> str:
    """What /health says, for messages: the body, or why there was none."""
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=2) as answer:
            return str(answer.read(2000).decode(errors="replace"))
    except OSError as exc:
        body = exc.read(2000).decode(errors="replace") if hasattr(exc, "read") else ""
        return f"{type(exc).__name__}: {exc} {body}".strip()


def _healthy() -> bool:
    try:
        return bool(json.loads(_health()).get("status") == "healthy")
    except ValueError:
        return False


def _ready_pods(kind_cluster: KindCluster) -> list[str]:
    """The app's live pods that are Running and Ready."""
    pods = kind_cluster.kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app=eleanor-v8")
    ready = []
    for pod in pods["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        if pod["status"].get("phase") == "Running" and conditions.get("Ready") == "True":
            ready.append(pod["metadata"]["name"])
    return ready


def _as_deployed(kind_cluster: KindCluster, replicas: int) -> Callable[[], bool]:
    def back() -> bool:
        deployment = kind_cluster.kubectl_json("-n", NAMESPACE, "get", f"deployment/{DEPLOYMENT}")
        status = deployment["status"]
        return (
            status.get("readyReplicas") == status.get("updatedReplicas") == replicas
            and status.get("replicas") == replicas
            and len(_ready_pods(kind_cluster)) == replicas
            and _healthy()
        )

    return back


def test_a_runner_killed_after_scaling_to_zero_is_undone_from_the_clusters_record(
    kind_cluster: KindCluster, connection: KubeConnection, tmp_path: Path
) -> None:
    replicas = deployed_replicas()
    undo = f"scale app back to {replicas} replicas"
    spec_before = _deployment_spec(connection)
    assert spec_before["replicas"] == replicas, spec_before
    # The cluster is shared with the modules before this one: the last of them (the database
    # restores) may still be settling. The test starts from the app as deployed and healthy,
    # waited for, and says what /health said when it was not so at once.
    at_start = _health()
    try:
        _wait_for(
            _as_deployed(kind_cluster, replicas),
            timeout=120,
            what="the app as deployed before the drill",
            every=1.0,
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; /health at first: {at_start}; at the end: {_health()}"
        ) from None
    assert _record(connection).pending() == [], "an undo was pending before the test"
    config = _short_lock_config(tmp_path)
    dead_cache = tmp_path / "cache-of-the-dead-runner"
    log = tmp_path / "runner.log"
    started = time.monotonic()
    with log.open("wb") as output:
        runner = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "drills/monthly/test_application_failure.py",
                "-k",
                "scaled_to_zero",
                "--drillbook-config",
                str(config),
                "--drillbook-runs-dir",
                str(tmp_path / "runs"),
                "-p",
                "no:cacheprovider",
                "--drillbook-no-progress",
            ],
            cwd=REPO,
            env=_env(kind_cluster, dead_cache),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the runner and its Locust processes
        )

    def faulted() -> bool:
        assert runner.poll() is None, "the runner ended before it was killed:\n" + log.read_text()
        pending = {e["description"] for e in _record(connection).pending()}
        return undo in pending and _deployment_spec(connection)["replicas"] == 0

    try:
        _wait_for(
            faulted, timeout=FAULT_TIMEOUT_SECONDS, what="the scale-down", every=FAULT_POLL_SECONDS
        )
        # Frozen at once (nothing of it runs on), then killed.
        os.killpg(runner.pid, signal.SIGSTOP)
        os.killpg(runner.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already: the assertion says why
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    killed_after = time.monotonic() - started
    assert runner.returncode == -signal.SIGKILL, log.read_text()[-4000:]

    # The runner died holding the fault: nothing undid it, the cluster's record says what is due.
    assert _deployment_spec(connection)["replicas"] == 0
    pending = [e["description"] for e in _record(connection).pending()]
    assert undo in pending, pending
    # Its machine is gone with its cache (and the local undo journal in it): only the cluster
    # remembers.
    shutil.rmtree(dead_cache)
    expiry = _wait_for(
        _lease_expired(connection),
        timeout=EXPIRY_TIMEOUT_SECONDS,
        what="the dead runner's Lease expiring",
        every=0.25,
    )

    undo_started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "drillbook.cli", "undo", "--config", str(config)],
        cwd=REPO,
        env=_env(kind_cluster, tmp_path / "cache-of-the-next-runner"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert all(f"undone: {d}" in done.stdout for d in pending), (pending, said)
    back = _wait_for(
        _as_deployed(kind_cluster, replicas),
        timeout=BACK_TIMEOUT_SECONDS,
        what=f"{replicas} Ready pods and /health healthy after the undo",
        every=0.5,
    )
    total_back = time.monotonic() - undo_started

    assert _deployment_spec(connection) == spec_before
    assert _record(connection).pending() == [], "an undo is still pending in the cluster"
    assert _lease_expired(connection)(), "the undo left the cluster's drill lock held"
    print(
        f"kind runner killed: fault in {killed_after:.1f} s after the start, pending {pending}, "
        f"lease expired after {expiry:.1f} s, undo + {replicas} pods Ready and healthy "
        f"{total_back:.1f} s (of which waiting for Ready {back:.1f} s)"
    )
