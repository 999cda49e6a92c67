"""`drillbook halt`: stop every drill running on this machine, from another shell.

Each running drill holds its target's lock (drillbook.engine.lock), whose file names the halt
request file the drill's stop watch looks for (drillbook.engine.stop). Halting writes that file;
within one probe interval the drill undoes its fault and aborts, and every later drill of that
run aborts before injecting anything. The command waits until each run has let go of its
target, and says which did and which did not.

With `--config` naming a Kubernetes target, the run is found through the cluster instead,
wherever it runs: its Lease (drillbook.platforms.kube_lease) is annotated with the request, which
the holder turns into its local halt request. Once nobody holds the cluster (the run let go, or
it had died), what the cluster's undo record still holds pending is undone, as
`drillbook undo --config` does.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drillbook.assembly.kubernetes_target import journal_root, lock_namespace
from drillbook.config.model import DrillbookConfig
from drillbook.core.undo import UndoOutcome
from drillbook.engine.lock import Holder, live_holder
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kube_journal import ClusterJournal
from drillbook.platforms.kube_lease import LeaseApi, ServerClock, holder_now, request_halt
from drillbook.stack.run_dir import LOCK_NAME
from drillbook.target import REUSED_STACK_DIR


@dataclass(frozen=True)
class HaltResult:
    holder: Holder
    released: bool
    seconds: float


def candidate_locks(run_dirs: Iterable[Path] = ()) -> list[Path]:
    """Every lock file a drill on this machine may hold: the run directories given, else the
    embedded stacks' (temporary and reused) and the Kubernetes journals'."""
    given = [Path(d) / LOCK_NAME for d in run_dirs]
    if given:
        return given
    found = sorted(Path(tempfile.gettempdir()).glob(f"drillbook-stack-*/{LOCK_NAME}"))
    found.append(REUSED_STACK_DIR.resolve() / LOCK_NAME)
    found += sorted(journal_root().glob("*.lock"))
    return found


def halt(locks: Iterable[Path], *, wait_seconds: float) -> list[HaltResult]:
    """Ask every live holder of `locks` to stop, then wait for each to let go."""
    holders = [h for h in (live_holder(path) for path in locks) if h is not None]
    requested = f"pid {os.getpid()} on {socket.gethostname()} at {time.strftime('%H:%M:%S')}"
    for holder in holders:
        if holder.halt_request is not None:
            holder.halt_request.write_text(requested + "\n", encoding="utf-8")
    started = time.monotonic()
    results = []
    for holder in holders:
        while live_holder(holder.lock) is not None:
            if time.monotonic() - started >= wait_seconds:
                break
            time.sleep(0.1)
        released = live_holder(holder.lock) is None
        results.append(HaltResult(holder, released, round(time.monotonic() - started, 2)))
    return results


@dataclass(frozen=True)
class ClusterHaltResult:
    context: str
    holder: str | None
    """The live run asked to stop (its holderIdentity), None when nobody held the cluster."""
    released: bool
    seconds: float
    undone: list[UndoOutcome]
    """What the cluster's undo record still held pending once nobody held the cluster."""


def halt_cluster(config: DrillbookConfig, *, wait_seconds: float) -> ClusterHaltResult:
    """Ask the run holding the cluster's Lease to stop, wait for it to let go, then undo what
    the cluster's record still holds pending (a run that died left it)."""
    from drillbook.assembly.target import open_target

    settings = config.kubernetes
    connection = connect(
        settings.kubeconfig, settings.context, request_timeout=settings.request_timeout_seconds
    )
    try:
        namespace = lock_namespace(config)
        leases = LeaseApi(
            connection.api,
            namespace=namespace,
            context=connection.context,
            request_timeout=connection.request_timeout,
        )
        clock = ServerClock(connection.api, connection.request_timeout)
        requested = f"pid {os.getpid()} on {socket.gethostname()} at {time.strftime('%H:%M:%S')}"
        holder = request_halt(leases, clock, by=f"drillbook halt --config: {requested}")
        started = time.monotonic()
        while holder is not None and holder_now(leases, clock) is not None:
            if time.monotonic() - started >= wait_seconds:
                return ClusterHaltResult(
                    connection.context, holder.holder, False, time.monotonic() - started, []
                )
            time.sleep(0.5)
        seconds = round(time.monotonic() - started, 2)
        record = ClusterJournal(
            connection.api,
            namespace=namespace,
            context=connection.context,
            request_timeout=connection.request_timeout,
        )
        undone: list[UndoOutcome] = []
        if record.pending():
            target = open_target(config)  # the lock, the record merged in, the replay
            try:
                undone = target.replayed_undos
            finally:
                target.close()
        return ClusterHaltResult(
            connection.context, holder.holder if holder else None, True, seconds, undone
        )
    finally:
        connection.close()
