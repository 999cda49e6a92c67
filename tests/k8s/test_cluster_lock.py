"""One drill per cluster across machines: the cluster's Lease (drillbook.platforms.kube_lease).

"Another machine" is another process with a cache directory of its own (DRILLBOOK_CACHE), so the
local lock (a file in that cache) never sees the other run: only the Lease in the cluster does.
A second run is refused naming the holder; a holder killed outright stops renewing and its Lease
is taken over once it has expired; two runs racing for an expired Lease: exactly one wins.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.assembly.kubernetes_target import open_kubernetes_target
from drillbook.errors import TargetInUse
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kube_errors import KubernetesAccessDenied
from drillbook.platforms.kube_lease import (
    LEASE_NAME,
    ClusterLock,
    LeaseApi,
    ServerClock,
    check_lock_access,
)
from tests.k8s.conftest import KWOK_CONFIG, LocalKubernetes
from tests.k8s.deploy import REPO

pytestmark = [pytest.mark.integration]

NAMESPACE = "eleanor-v8"  # the first component's (app's) namespace: the default lock namespace
LOCK_DURATION = 4.0
HOLD = """
import sys
from drillbook.assembly.kubernetes_target import open_kubernetes_target
from drillbook.config.loader import load_config

config = load_config(sys.argv[1], overrides={
    "kubernetes.kubeconfig": sys.argv[2], "kubernetes.lock_duration": sys.argv[3]})
target = open_kubernetes_target(config)
print("held", flush=True)
if len(sys.argv) > 4:  # until `drillbook halt` asks, as a drill's stop watch would see it
    import time
    from drillbook.engine.stop import halt_request_path
    request = halt_request_path(target.journal.path)
    deadline = time.monotonic() + 60
    while not request.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    print(request.read_text().strip() if request.exists() else "never asked", flush=True)
else:
    sys.stdin.read()  # until the test lets go
target.close()
print("released", flush=True)
"""


def _hold(
    local_k8s: LocalKubernetes, cache: Path, *, until_halted: bool = False
) -> subprocess.Popen[str]:
    """Another runner (its own cache: another machine) holding the cluster."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD,
            str(KWOK_CONFIG),
            str(local_k8s.kubeconfig),
            f"{LOCK_DURATION}s",
            *(["until-halted"] if until_halted else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "DRILLBOOK_CACHE": str(cache)},
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == "held", f"the holder did not take the cluster: {line!r}"
    return process


@pytest.fixture
def lease_api(local_k8s: LocalKubernetes) -> Iterator[tuple[LeaseApi, ServerClock]]:
    connection = connect(str(local_k8s.kubeconfig), "primary")
    try:
        api = LeaseApi(connection.api, namespace=NAMESPACE, context="primary", request_timeout=5)
        yield api, ServerClock(connection.api, 5)
    finally:
        connection.close()


def test_a_second_run_is_refused_naming_the_holder_and_runs_once_it_let_go(
    local_k8s: LocalKubernetes,
    lease_api: tuple[LeaseApi, ServerClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRILLBOOK_CACHE", str(tmp_path / "this-machine"))
    holder = _hold(local_k8s, tmp_path / "other-machine")
    try:
        with pytest.raises(TargetInUse) as refused:
            open_kubernetes_target(local_k8s.config())
        message = str(refused.value)
        assert f"pid {holder.pid} run " in message
        assert f"Lease {NAMESPACE}/{LEASE_NAME}" in message
        assert "kube context 'primary' is being drilled by another run" in message
        assert "drillbook halt --config" in message
        # The refused run changed nothing: the Lease still names the holder.
        record, _ = lease_api[0].read()
        assert record is not None and record.holder is not None
        assert f"pid {holder.pid} run " in record.holder
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.stdout is not None and holder.stdout.readline().strip() == "released"
        assert holder.wait(30) == 0
    finally:
        holder.kill()
    released, _ = lease_api[0].read()
    assert released is not None and released.holder is None  # given back at close
    started = time.monotonic()
    target = open_kubernetes_target(local_k8s.config())  # at once: no expiry to wait for
    try:
        record, _ = lease_api[0].read()
        assert record is not None and f"pid {os.getpid()} run " in str(record.holder)
    finally:
        target.close()
    print(f"opened after the holder let go in {time.monotonic() - started:.2f} s")


def test_the_lease_of_a_runner_killed_outright_is_taken_over_once_it_expired(
    local_k8s: LocalKubernetes,
    lease_api: tuple[LeaseApi, ServerClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRILLBOOK_CACHE", str(tmp_path / "this-machine"))
    holder = _hold(local_k8s, tmp_path / "other-machine")
    dead, _ = lease_api[0].read()
    assert dead is not None and dead.holder is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    killed_at = time.monotonic()
    # Dead, but its Lease has not expired yet: still refused (nothing says it is dead).
    with pytest.raises(TargetInUse):
        open_kubernetes_target(local_k8s.config())
    deadline = killed_at + LOCK_DURATION + 15.0
    refusals = 1
    while True:
        try:
            target = open_kubernetes_target(local_k8s.config())
            break
        except TargetInUse:
            refusals += 1
            assert time.monotonic() < deadline, "the dead holder's Lease was never taken over"
            time.sleep(0.5)
    took = time.monotonic() - killed_at
    try:
        record, _ = lease_api[0].read()
        assert record is not None and f"pid {os.getpid()} run " in str(record.holder)
        assert record.transitions == dead.transitions + 1
    finally:
        target.close()
    # Expired means the duration and the clock margin had passed since its last renewal,
    # which was at most a third of the duration before the kill.
    assert took >= LOCK_DURATION * 2 / 3, took
    print(
        f"taken over {took:.1f} s after the kill (lock_duration {LOCK_DURATION:.0f} s), "
        f"after {refusals} refusals"
    )


def test_two_runs_racing_for_an_expired_lease_one_wins_the_other_is_told_who(
    local_k8s: LocalKubernetes, lease_api: tuple[LeaseApi, ServerClock]
) -> None:
    leases, clock = lease_api
    # A dead holder's Lease, expired a minute ago.
    expired = ClusterLock(
        leases, clock, server="dead", duration_seconds=1.0, identity="dead-runner pid 1"
    )
    expired.clock = _Shifted(clock, -60.0)
    expired.acquire()
    expired._stop.set()  # it dies: no more renewals, nothing given back
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def race(name: str) -> None:
        # Two "machines": distinct keys, so this process does not share one hold between them.
        lock = ClusterLock(leases, clock, server=name, duration_seconds=30.0, identity=name)
        barrier.wait()
        try:
            lock.acquire()
            outcomes[name] = "won"
            lock._stop.set()
        except TargetInUse as exc:
            outcomes[name] = str(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in ("runner-a", "runner-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    loser = next(name for name in outcomes if name not in winners)
    assert winners[0] in outcomes[loser] or "at the same moment" in outcomes[loser], outcomes
    record, lease = leases.read()
    assert record is not None and record.holder == winners[0]
    # Leave the Lease free for the other tests.
    assert lease is not None
    lease["spec"].pop("holderIdentity")
    assert leases.replace(lease)


class _Shifted(ServerClock):
    """The server's clock seen from a runner that wrote its last renewal long ago."""

    def __init__(self, clock: ServerClock, shift: float) -> None:
        self.offset = clock.offset + shift


def test_an_identity_without_rights_on_leases_is_told_the_rules_to_add(
    restricted_kubeconfig: Path,
) -> None:
    connection = connect(str(restricted_kubeconfig), None)
    try:
        with pytest.raises(KubernetesAccessDenied) as refused:
            check_lock_access(connection.api, namespace=NAMESPACE, context="restricted")
    finally:
        connection.close()
    message = str(refused.value)
    assert "nothing was injected" in message
    assert f"Lease {NAMESPACE}/{LEASE_NAME}" in message
    assert '{apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"]}' in message
    assert '{apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["update"]}' in (
        message
    )
    assert '{apiGroups: [""], resources: ["configmaps"], verbs: ["patch"]}' in message
    assert f"namespace '{NAMESPACE}'" in message


def test_halt_with_the_config_reaches_the_run_holding_the_cluster_through_its_lease(
    local_k8s: LocalKubernetes, lease_api: tuple[LeaseApi, ServerClock], tmp_path: Path
) -> None:
    holder = _hold(local_k8s, tmp_path / "other-machine", until_halted=True)
    try:
        halted = subprocess.run(
            [sys.executable, "-m", "drillbook.cli", "halt", "--config", str(KWOK_CONFIG)],
            cwd=REPO,
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "KUBECONFIG": str(local_k8s.kubeconfig),
                "DRILLBOOK_CACHE": str(tmp_path / "this-machine"),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert holder.stdout is not None
        asked = holder.stdout.readline().strip()
        assert holder.wait(30) == 0
    finally:
        holder.kill()
    output = halted.stdout + halted.stderr
    assert halted.returncode == 0, output
    # The holder's thread turned the Lease's annotation into its local halt request.
    assert asked.startswith("drillbook halt --config: pid "), asked
    assert f"pid {holder.pid} run " in halted.stdout and ": stopped, its faults undone" in output
    record, _ = lease_api[0].read()
    assert record is not None and record.holder is None
