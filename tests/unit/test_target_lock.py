"""One run per target: a second run is refused and told who holds the target; a holder that
died leaves a lock the next run takes over; one process may open its own target twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drillbook.engine.lock import TargetLock
from drillbook.errors import TargetInUse

HOLD = """
import sys, time
from pathlib import Path
from drillbook.engine.lock import TargetLock
TargetLock(Path(sys.argv[1]), target="t").acquire()
print("held", flush=True)
time.sleep(60)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_and_told_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "drill.lock"
    holder = _holder(path)
    try:
        with pytest.raises(TargetInUse) as refused:
            TargetLock(path, target="embedded stack in /x").acquire()
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "embedded stack in /x" in message
        assert "-c" in message  # the holder's command line
    finally:
        holder.kill()
        holder.wait(10)


def test_the_lock_of_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "drill.lock"
    holder = _holder(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    deadline = time.monotonic() + 5
    lock = TargetLock(path, target="t")
    while True:
        try:
            lock.acquire()
            break
        except TargetInUse:
            assert time.monotonic() < deadline, "the dead holder's lock was never released"
            time.sleep(0.05)
    assert f'"pid": {os.getpid()}' in path.read_text()
    lock.release()
    assert path.read_text() == ""


def test_one_process_shares_its_own_lock(tmp_path: Path) -> None:
    path = tmp_path / "drill.lock"
    outer = TargetLock(path, target="t").acquire()
    inner = TargetLock(path, target="t").acquire()
    inner.release()
    holder_check = subprocess.run(
        [sys.executable, "-c", HOLD, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert "TargetInUse" in holder_check.stderr  # still held: the outer hold counts
    outer.release()
    again = TargetLock(path, target="t").acquire()
    again.release()
