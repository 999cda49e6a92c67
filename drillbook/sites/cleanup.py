"""`drillbook sites cleanup`: remove what two-site deployments left behind.

Normally nothing is left: a deployment removes itself after each drill, and its watchdogs do
it when the runner dies. When both were killed (the machine's OOM killer, `kill -9` of the
watchdogs too), this finds the leftovers by the names drillbook gives them and removes them:
the processes whose command line names a deployment's run directory (by PID, SIGKILL), then
the network namespaces, links and blackhole routes of those runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from drillbook.sites import network

RUN_DIR_MARK = "drillbook-sites-"
"""Every deployment's run directory is named drillbook-sites-<run id>-<random>."""


def leftover_runs() -> list[str]:
    """The run ids of deployments with namespaces or links still present."""
    runs: set[str] = set()
    for name in network.leftovers():
        if name.startswith(network.NAMESPACE_PREFIX):
            runs.add(name[len(network.NAMESPACE_PREFIX) :][:6])
        elif name.startswith(network.INTERFACE_PREFIX):
            runs.add(name[len(network.INTERFACE_PREFIX) :][:6])
    return sorted(runs)


def leftover_processes(run_id: str | None = None) -> list[int]:
    """PIDs whose command line names a deployment's run directory (one run, or any)."""
    mark = f"{RUN_DIR_MARK}{run_id}-" if run_id else RUN_DIR_MARK
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if mark in command:
            found.append(int(entry.name))
    return sorted(found)


def runs_in_use() -> list[str]:
    """Run ids whose owner (the runner that built them) is still alive: a drill in progress,
    which cleanup must not touch. The owner is read from the run's network watchdog."""
    from drillbook.stack.watchdog import process_start_ticks

    live: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parts = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "drillbook.sites.watchdog" not in parts:
            continue
        args = parts[parts.index("drillbook.sites.watchdog") + 1 :]
        with contextlib.suppress(ValueError, IndexError):
            if process_start_ticks(int(args[0])) == int(args[1]):
                live.append(args[2])
    return sorted(live)


def clean_up() -> dict[str, list[str] | list[int]]:
    """Kill the leftover processes, then remove the leftover networks, of every deployment
    whose owner is gone; what was removed, and what was left alone because it is in use."""
    in_use = runs_in_use()
    runs = [run_id for run_id in leftover_runs() if run_id not in in_use]
    if in_use:  # only the dead runs' processes: a live run's are its own business
        killed = sorted({pid for run_id in runs for pid in leftover_processes(run_id)})
    else:  # any deployment's (also one whose network is already gone)
        killed = leftover_processes()
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for run_id in runs:
        network.remove(run_id)
    return {"processes_killed": killed, "networks_removed": runs, "in_use": in_use}
