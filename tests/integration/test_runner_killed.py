"""The runner killed outright (SIGKILL, with every process of its own) in each phase of a drill
on the embedded stack; `drillbook undo` (what the next run does first) leaves the stack whole
every time: healthy through its proxy, every application replica back, no undo pending.

The stack is a reused one (`--drillbook-reuse-stack`), so that it outlives the runner as a
deployment does; a stack of the run's own is stopped by its watchdog when the runner dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

DRILL = "all_replicas"
PHASE_SECONDS = 240.0
JOURNAL = "undo-journal.jsonl"


def _pending(run_dir: Path) -> set[str]:
    path = run_dir / JOURNAL
    if not path.exists():
        return set()
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pushed = {e["id"] for e in entries if e["state"] == "pending"}
    return pushed - {e["id"] for e in entries if e["state"] == "done"}


def _said(text: str) -> Callable[[list[str], Path], bool]:
    return lambda lines, run_dir: any(text in line for line in lines)


def _journaled(lines: list[str], run_dir: Path) -> bool:
    return bool(_pending(run_dir))


PHASES: dict[str, Callable[[list[str], Path], bool]] = {
    "baseline": _said("steady state:"),
    "injected": _journaled,
    "detected": _said("outage detected"),
    "recovering": _said("recover: "),
    "verifying": _said("verify: "),
    "undoing": _said("undo: revert every fault"),
}


@pytest.fixture(scope="module")
def stack_dir() -> Iterator[Path]:
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-killed-stack-"))
    try:
        yield run_dir
    finally:
        _drillbook("stack", "down", "--run-dir", str(run_dir))
        shutil.rmtree(run_dir, ignore_errors=True)


def _drillbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _run_until(phase: str, run_dir: Path, runs: Path) -> list[str]:
    """Start the drill, SIGKILL the runner's whole process group in `phase`; its output."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly/test_application_failure.py",
            "-k",
            DRILL,
            "--drillbook-run-dir",
            str(run_dir),
            "--drillbook-reuse-stack",
            "--drillbook-runs-dir",
            str(runs),
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the runner and its own processes (Locust), not the stack
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + PHASE_SECONDS
    try:
        while not PHASES[phase](list(lines), run_dir):
            assert process.poll() is None, f"the run ended before {phase}:\n" + "".join(lines)
            assert time.monotonic() < deadline, f"never reached {phase}:\n" + "".join(lines)
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    return lines


def _whole(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "stack.json").read_text())
    proxy = manifest["ports"]["proxy"]
    deadline = time.monotonic() + 90
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{proxy}/health", timeout=2)
            answer = response.json()
        except httpx.HTTPError as exc:
            answer = {"error": repr(exc)}
        except ValueError:  # the proxy's own page: no replica in rotation yet
            answer = {"status": response.status_code, "body": response.text[:200]}
        if answer.get("status") == "healthy":
            break
        if time.monotonic() >= deadline:
            status = _drillbook("stack", "status", "--run-dir", str(run_dir))
            log = run_dir / "logs" / "supervisord.log"
            tail = log.read_text()[-3000:] if log.exists() else "no supervisord log"
            raise AssertionError(f"{answer}\n{status.stdout}{status.stderr}\n{tail}")
        time.sleep(0.25)
    assert _pending(run_dir) == set()


def test_a_runner_killed_in_any_phase_leaves_a_stack_the_next_run_restores(
    stack_dir: Path, tmp_path: Path
) -> None:
    restored: list[str] = []
    for phase in PHASES:
        _run_until(phase, stack_dir, tmp_path / f"runs-{phase}")
        left = _pending(stack_dir)
        undone = _drillbook("undo", "--run-dir", str(stack_dir))
        assert undone.returncode == 0, undone.stdout + undone.stderr
        if left:
            assert "undone: bring app back to its desired replicas" in undone.stdout, undone
        _whole(stack_dir)
        restored.append(f"{phase} ({len(left)} pending)")
    print(f"phases tried: {len(PHASES)}; restored: {len(restored)}: {', '.join(restored)}")
    assert len(restored) == len(PHASES)
