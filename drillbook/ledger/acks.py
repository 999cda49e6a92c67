"""What the writer knows for certain: the writes the target acknowledged, and the ones it refused.

An acknowledgement is the target's promise that a write is durable; the checker holds the target
to it. Each one is kept in memory and appended, as one JSON line, to a file outside the blast
radius of any fault, so a crashed test run still leaves the evidence of what was promised.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Literal

AckState = Literal["acknowledged", "failed"]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """One write the target acknowledged (answered with success)."""

    seq: int
    """The writer's sequence number, 1, 2, 3... in send order."""
    trace_id: str
    """The write's identity in the store: `drill-<run>-<seq>`."""
    sent_monotonic: float
    """CLOCK_MONOTONIC when the request was sent."""
    ack_monotonic: float
    """CLOCK_MONOTONIC when the acknowledgement arrived: the time the RPO is measured from."""
    ack_wall: float
    """The same instant in Unix time, for reports and for PITR targets."""
    record_hash: str | None = None
    """The hash the target returned for the stored record, when it returns one."""
    store_sequence: int | None = None
    """The target's own sequence number of the record (the row id), when it returns one."""


@dataclass(frozen=True)
class FailedWrite:
    """One write that was not acknowledged (error status, refused, timed out)."""

    seq: int
    trace_id: str
    sent_monotonic: float
    failed_monotonic: float
    error: str
    """What the writer saw: "HTTP 503", "ConnectError: ...", "ReadTimeout"."""


class AckFile:
    """An append-only JSON-lines file of acknowledgements and failures; fsynced on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh: IO[str] | None = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def append(self, entry: Acknowledgement | FailedWrite) -> None:
        state: AckState = "acknowledged" if isinstance(entry, Acknowledgement) else "failed"
        line = json.dumps({"state": state, **asdict(entry)}, sort_keys=True) + "\n"
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(line)
            # Flushed at once so another process (or a post-mortem) sees every promise; the
            # fsync is left to close(), at a few writes per second it would only add jitter.
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is None:
                return
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def read_ack_file(path: Path) -> tuple[list[Acknowledgement], list[FailedWrite]]:
    """Load an acknowledgement file back (a torn last line from a crash is skipped)."""
    acks: list[Acknowledgement] = []
    failures: list[FailedWrite] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            entry: dict[str, Any] = json.loads(raw)
        except ValueError:
            continue
        state = entry.pop("state", None)
        if state == "acknowledged":
            acks.append(Acknowledgement(**entry))
        elif state == "failed":
            failures.append(FailedWrite(**entry))
    return acks, failures
