"""One run per target on the embedded stack: a second run against a stack another run is
drilling is refused before it touches anything, and is told who holds it; the first run goes
on undisturbed (its journal is never replayed by the second)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

WAIT_FOR_FIRST_SECONDS = 300.0


def _pytest(run_dir: Path, runs: Path, selection: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "drills/monthly/test_application_failure.py",
        "-k",
        selection,
        "--drillbook-run-dir",
        str(run_dir),
        "--drillbook-runs-dir",
        str(runs / selection),
        "-p",
        "no:cacheprovider",
    ]


def test_a_second_run_against_a_stack_in_use_is_refused() -> None:
    # Under /tmp itself: the postgres user must traverse the run directory's parents.
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-lock-stack-"))
    runs = Path(tempfile.mkdtemp(prefix="drillbook-lock-runs-"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(
        _pytest(run_dir, runs, "scaled"),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The first run holds the lock from before its stack starts to its end; wait until its
        # drill is under way (the journal exists once the fault's undo is journaled).
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        journal = run_dir / "undo-journal.jsonl"
        while not (journal.exists() and journal.stat().st_size > 0):
            assert first.poll() is None, first.communicate()[0][-4000:]
            assert time.monotonic() < deadline, "the first run never injected its fault"
            time.sleep(0.2)
        journal_before = journal.read_bytes()
        second = subprocess.run(
            _pytest(run_dir, runs, "one_replica"),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        out = second.stdout + second.stderr
        assert second.returncode != 0, out[-3000:]
        assert "TargetInUse: target 'embedded stack in" in out, out[-3000:]
        assert f"pid {first.pid} on " in out, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        # Refused before it read or replayed anything of the first run's.
        assert journal.read_bytes()[: len(journal_before)] == journal_before
        output, _ = first.communicate(timeout=600)
        assert first.returncode == 0, output[-4000:]
        assert "1 passed" in output, output[-2000:]
    finally:
        if first.poll() is None:
            first.terminate()
            first.wait(120)
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(runs, ignore_errors=True)
