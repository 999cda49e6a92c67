"""Removes a two-site deployment's network when its owner died without stopping it.

Each site's supervisord has its own watchdog (drillbook.stack.watchdog) that stops its
processes; this one waits for the owner's death (or the normal end: the run directory gone),
gives those a moment, then deletes the namespaces and links and the run directory, so a runner
killed mid-drill leaves nothing behind.

Usage: python -m drillbook.sites.watchdog OWNER_PID OWNER_START RUN_ID RUN_DIR
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from drillbook.sites import network
from drillbook.stack.watchdog import process_start_ticks

POLL_SECONDS = 0.5
GRACE_SECONDS = 25.0
"""Long enough for the site watchdogs to stop their supervisords (20 s each, in parallel)."""


def watch(owner: int, owner_start: int, run_id: str, run_dir: Path) -> int:
    while True:
        if not run_dir.exists():
            return 0  # stopped by its owner: it removed the network itself
        if process_start_ticks(owner) != owner_start:
            break
        time.sleep(POLL_SECONDS)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(
        (run_dir / part / "supervisord.pid").exists() for part in _parts(run_dir)
    ):
        time.sleep(POLL_SECONDS)
    network.remove(run_id)
    shutil.rmtree(run_dir, ignore_errors=True)
    return 1


def _parts(run_dir: Path) -> list[str]:
    try:
        return [p.name for p in run_dir.iterdir() if p.is_dir()]
    except OSError:
        return []


def main(argv: list[str]) -> int:
    owner, owner_start = int(argv[0]), int(argv[1])
    return watch(owner, owner_start, argv[2], Path(argv[3]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
