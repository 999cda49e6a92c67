"""Finding every process an embedded stack started, to prove none is left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_SPAWNED = re.compile(r"spawned: '(?P<name>[^']+)' with pid (?P<pid>\d+)")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stack_pids(run_dir: Path) -> set[int]:
    """supervisord (from the manifest) and every process it ever spawned (from its log)."""
    pids: set[int] = set()
    manifest = run_dir / "stack.json"
    if manifest.exists():
        pids.add(int(json.loads(manifest.read_text())["supervisord_pid"]))
    log = run_dir / "logs" / "supervisord.log"
    if log.exists():
        pids |= {int(m["pid"]) for m in _SPAWNED.finditer(log.read_text())}
    return pids


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line mentions `text` (the run dir: postgres, redis, the watchdog...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


def run_pytest(
    *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def start_pytest(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
