"""`drillbook halt`: stop every drill running on this machine, from another shell.

Each running drill holds its target's lock (drillbook.engine.lock), whose file names the halt
request file the drill's stop watch looks for (drillbook.engine.stop). Halting writes that file;
within one probe interval the drill undoes its fault and aborts, and every later drill of that
run aborts before injecting anything. The command waits until each run has let go of its
target, and says which did and which did not.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drillbook.assembly.kubernetes_target import journal_root
from drillbook.engine.lock import Holder, live_holder
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
