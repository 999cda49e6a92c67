"""Stops an embedded stack whose owner died.

The stack runs in its own session (so Ctrl-C reaches pytest first and the drill can undo its
fault); the price is that a pytest killed outright (SIGKILL, OOM) would leave it running. This
small process watches the owner and shuts the stack down when the owner is gone; it exits by
itself when the stack is stopped normally. Not started for a reused stack, which must outlive
its owner on purpose.

Usage: python -m drillbook.stack.watchdog OWNER_PID OWNER_START SUPERVISORD_PID RUN_DIR [--remove]
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from drillbook.core.polling import poll_until
from drillbook.errors import StackError
from drillbook.platforms.supervisor_client import SupervisorClient
from drillbook.stack.run_dir import give_back

POLL_SECONDS = 0.5


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid`, which tells a living owner from a reused PID."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def watch(owner: int, owner_start: int, supervisord: int, run_dir: Path, remove: bool) -> int:
    client = SupervisorClient(str(run_dir / "supervisor.sock"))
    while True:
        if process_start_ticks(supervisord) is None:
            return 0  # the stack was stopped by its owner: nothing to do
        if process_start_ticks(owner) != owner_start:
            break
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(StackError):
        client.shutdown()
    poll_until(
        lambda: process_start_ticks(supervisord),
        lambda ticks: ticks is None,
        timeout=20,
        interval=0.1,
    )
    if remove:
        give_back(run_dir)
    return 1


def main(argv: list[str]) -> int:
    owner, owner_start, supervisord = (int(a) for a in argv[:3])
    return watch(owner, owner_start, supervisord, Path(argv[3]), "--remove" in argv[4:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
