"""The two-site deployment's lifecycle: nothing is left behind, whatever way it ends.

A real deployment each (PostgreSQL, Redis, Weaviate, OpenBao, moto, HAProxy in two network
namespaces): killed outright (the watchdogs must remove it), and stopped after a site loss.
Each deployment gets its own free 10.215.<x>.0/24, so a deployment running on the default
10.213.0.0/24 (another drill, another engineer) is never in the way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.sites import network
from drillbook.sites.deployment import TwoSites, start_two_sites
from drillbook.stack.binaries import require_binary
from drillbook.stack.watchdog import process_start_ticks
from tests.integration.processes import REPO, processes_mentioning

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the two-site deployment needs root"),
]

START_SECONDS = 180.0
"""A deployment starts in about 15 s; this bounds a slow machine."""
CLEANUP_SECONDS = 90.0
"""The site watchdogs stop their supervisords (up to 20 s), the network watchdog then waits up
to 25 s for them before removing the namespaces and the run directory."""
STOP_SECONDS = 30.0

SCRIPT = """
import json, sys, time
from drillbook.config.loader import load_config
from drillbook.sites.deployment import start_two_sites

config = load_config(None, overrides={"sites.subnet": sys.argv[1]})
deployment = start_two_sites(config)
line = {"run_dir": str(deployment.run_dir), "run_id": deployment.network.run_id}
print(json.dumps(line), flush=True)
time.sleep(3600)
"""


def _ip(*args: str) -> str:
    return subprocess.run(
        [str(require_binary("ip")), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def _free_subnet() -> str:
    """A 10.215.<x>.0/24 that no address of this machine overlaps."""
    taken = [
        ipaddress.ip_interface(line.split()[3]).network
        for line in _ip("-o", "-4", "addr", "show").splitlines()
        if len(line.split()) > 3
    ]
    for third in random.sample(range(256), 256):
        candidate = ipaddress.IPv4Network(f"10.215.{third}.0/24")
        if not any(candidate.overlaps(net) for net in taken):
            return str(candidate)
    raise AssertionError("no free 10.215.x.0/24 subnet")


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _descendants(root: int) -> dict[int, int]:
    """Every living descendant of `root`: pid -> start ticks (which tells a reused PID)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        ticks = process_start_ticks(pid)
        if ticks is not None:
            found[pid] = ticks
        todo += children.get(pid, [])
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def _still_running(known: dict[int, int], run_dir: Path) -> list[int]:
    same = [pid for pid, ticks in known.items() if process_start_ticks(pid) == ticks]
    return sorted(set(same) | set(processes_mentioning(str(run_dir))))


def _blackholes(addresses: list[str]) -> list[str]:
    return [
        line
        for line in _ip("route", "show", "type", "blackhole").splitlines()
        if line.split()[1:2] and line.split()[1].split("/")[0] in addresses
    ]


def _what_is_left(
    run_id: str, run_dir: Path, known: dict[int, int], addresses: list[str]
) -> list[str]:
    left = [f"interface or namespace {name}" for name in network.leftovers(run_id)]
    if run_dir.exists():
        left.append(f"run dir {run_dir}")
    record = Path("/run/drillbook") / f"network-{run_id}.addresses"
    if record.exists():
        left.append(f"address record {record}")
    left += [f"process {pid}: {_cmdline(pid)}" for pid in _still_running(known, run_dir)]
    left += [f"root blackhole route: {route}" for route in _blackholes(addresses)]
    return left


def _wait_nothing_left(what_is_left: Callable[[], list[str]], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    left = what_is_left()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = what_is_left()
    return left


def _remove_what_is_left(run_id: str | None, run_dir: Path | None, known: dict[int, int]) -> None:
    """After a failure only: what this test's own deployment left, removed by PID and name."""
    if run_dir is not None:
        for pid in _still_running(known, run_dir):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)
    if run_id is not None:
        with contextlib.suppress(Exception):
            network.remove(run_id)


@pytest.mark.timeout(START_SECONDS + CLEANUP_SECONDS + 120)
def test_a_killed_owner_leaves_no_deployment_behind(tmp_path: Path) -> None:
    subnet = _free_subnet()
    hosts = [str(h) for h in list(ipaddress.IPv4Network(subnet).hosts())[1:3]]
    errors = tmp_path / "child.stderr"
    with errors.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, subnet],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PATH": os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin"},
        )
    lines: queue.Queue[str] = queue.Queue()
    stdout = child.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
    reader.start()
    run_id: str | None = None
    run_dir: Path | None = None
    known: dict[int, int] = {}
    try:
        try:
            line = lines.get(timeout=START_SECONDS)
        except queue.Empty:
            line = ""
        if not line:
            raise AssertionError(
                f"the deployment did not start within {START_SECONDS:.0f}s "
                f"(exit {child.poll()}):\n{errors.read_text()[-4000:]}"
            )
        started = json.loads(line)
        run_id, run_dir = str(started["run_id"]), Path(started["run_dir"])
        assert network.leftovers(run_id), "the deployment's network is not there"
        known = _descendants(child.pid)
        assert len(known) >= 10, {pid: _cmdline(pid) for pid in known}

        child.kill()  # SIGKILL: no stop(), no finally; the watchdogs must remove everything
        child.wait(timeout=30)

        left = _wait_nothing_left(
            lambda: _what_is_left(str(run_id), Path(str(run_dir)), known, hosts),
            CLEANUP_SECONDS,
        )
        assert left == [], f"left {CLEANUP_SECONDS:.0f}s after the owner was killed: {left}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        stdout.close()
        _remove_what_is_left(run_id, run_dir, known)


@pytest.mark.timeout(START_SECONDS + STOP_SECONDS + 180)
def test_a_lost_site_undone_then_stopped_leaves_nothing_behind() -> None:
    from drillbook.scenarios.sites.faults import SitesUndo, lose_site

    config = load_config(None, overrides={"sites.subnet": _free_subnet()})
    before = set(_descendants(os.getpid()))
    deployment: TwoSites | None = start_two_sites(config)
    assert deployment is not None
    run_id, run_dir = deployment.network.run_id, deployment.run_dir
    addresses = [deployment.network.address(site) for site in deployment.sites]
    known = {pid: t for pid, t in _descendants(os.getpid()).items() if pid not in before}
    try:
        lost = deployment.settings.primary
        fault = lose_site(deployment, lost)
        details = fault.inject()
        assert details is not None and details["processes_killed"] >= 5, details
        assert deployment.network.is_isolated(lost)
        assert deployment.primary.stack is None
        # The undo as the journal replays it.
        SitesUndo(deployment.network)(fault.undo)
        assert not deployment.network.is_isolated(lost)

        killed = deployment.stop()
        deployment = None
        left = _wait_nothing_left(
            lambda: _what_is_left(run_id, run_dir, known, addresses), STOP_SECONDS
        )
        assert left == [], f"left {STOP_SECONDS:.0f}s after stop(): {left}"
        assert killed == [], f"stop() had to kill {killed}"
    finally:
        if deployment is not None:
            with contextlib.suppress(Exception):
                deployment.stop()
        _remove_what_is_left(run_id, run_dir, known)
