"""One run per target: an exclusive lock, held for as long as the target is open.

Two runs against one target would share its undo journal: the second run's replay would undo
the first run's live fault, and their faults would mix in each other's measurements. The lock
is an `flock` on a file beside the journal. The kernel releases it when its holder dies however
it dies (SIGKILL, power loss on a local disk), so a dead holder's lock is taken over by the next
run with nothing to clean up; the next run then replays the dead run's pending undos under it.
The file names the holder (pid, host, start, command) for the refusal message; it is a hint for
humans, never what decides.

A process that opens one target twice (a CLI command inside a pytest session, the same config
loaded twice) shares its own lock instead of refusing itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from drillbook.errors import TargetInUse


@dataclass
class _Held:
    fd: int
    users: int


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


class TargetLock:
    """The exclusive lock of one target: a file beside its undo journal."""

    def __init__(self, path: Path, *, target: str, halt_request: Path | None = None) -> None:
        self.path = path.resolve()
        self.target = target
        self.halt_request = halt_request
        """Where `drillbook halt` asks this run to stop (drillbook.engine.stop)."""
        self._acquired = False

    def acquire(self) -> TargetLock:
        """Take the lock now or raise TargetInUse naming the holder; never waits."""
        with _GUARD:
            held = _HELD.get(self.path)
            if held is not None:
                held.users += 1
                self._acquired = True
                return self
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise TargetInUse(
                    f"target {self.target!r} is being drilled by another run ({holder}; lock "
                    f"{self.path}). One run per target: wait for it to finish, or stop it "
                    "(Ctrl-C lets it undo its faults); a run that died releases the lock by "
                    "itself."
                ) from None
            _write_holder(fd, self.target, self.halt_request)
            _HELD[self.path] = _Held(fd=fd, users=1)
            self._acquired = True
            return self

    def release(self) -> None:
        with _GUARD:
            if not self._acquired:
                return
            self._acquired = False
            held = _HELD.get(self.path)
            if held is None:
                return
            held.users -= 1
            if held.users > 0:
                return
            del _HELD[self.path]
            try:
                os.ftruncate(held.fd, 0)
                fcntl.flock(held.fd, fcntl.LOCK_UN)
            finally:
                os.close(held.fd)

    def __enter__(self) -> TargetLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_holder(fd: int, target: str, halt_request: Path | None) -> None:
    holder = {
        "target": target,
        "halt_request": None if halt_request is None else str(halt_request),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv)[:300],
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    os.fsync(fd)


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return "holder unknown"
    if not isinstance(data, dict) or "pid" not in data:
        return "holder unknown"
    return (
        f"pid {data.get('pid')} on {data.get('host', '?')} since {data.get('since', '?')}: "
        f"{data.get('command', '?')}"
    )


@dataclass(frozen=True)
class Holder:
    """A run holding a target's lock, as its lock file names it."""

    lock: Path
    target: str
    pid: int
    description: str
    halt_request: Path | None


def live_holder(path: Path) -> Holder | None:
    """The run holding the lock at `path` now, or None when nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held exclusively: a live run
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        try:
            data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            data = {}
        description = _read_holder(fd)
    finally:
        os.close(fd)
    request = data.get("halt_request") if isinstance(data, dict) else None
    return Holder(
        lock=path,
        target=str(data.get("target", path.parent)) if isinstance(data, dict) else str(path),
        pid=int(data.get("pid", 0)) if isinstance(data, dict) else 0,
        description=description,
        halt_request=Path(request) if isinstance(request, str) else None,
    )
