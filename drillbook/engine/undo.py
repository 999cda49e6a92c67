"""Crash-safe undo of every injected fault.

Each undo is written to a journal file (and fsynced) *before* its fault is injected, so that:
- a drill that fails or errors unwinds its stack in its finalizer;
- a run interrupted by Ctrl-C or SIGTERM unwinds it during pytest's teardown;
- a run that died outright (SIGKILL, power loss) leaves pending entries that the next run
  replays before it injects anything new.
Undo actions are data (a platform verb and JSON arguments), not closures, for exactly that reason:
the `UndoAction` type is in drillbook.core.undo, the journal and the stack here.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from drillbook.core.undo import UndoAction, UndoExecutor, UndoOutcome

log = logging.getLogger(__name__)


class UndoJournal:
    """An append-only JSON-lines file of pushed and completed undo entries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def push(self, action: UndoAction) -> str:
        entry_id = uuid.uuid4().hex
        self._append({"id": entry_id, "state": "pending", "at": time.time(), **asdict(action)})
        return entry_id

    def resolve(self, entry_id: str, error: str | None = None) -> None:
        state = "done" if error is None else "failed"
        self._append({"id": entry_id, "state": state, "at": time.time(), "error": error})

    def pending(self) -> list[tuple[str, UndoAction]]:
        """Entries pushed but never resolved, newest first (the order to undo them)."""
        if not self.path.exists():
            return []
        pushed: dict[str, UndoAction] = {}
        order: list[str] = []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                # A torn last line from a crash mid-write: the push it belonged to never
                # completed, so its fault was never injected either.
                continue
            if entry.get("state") == "pending":
                pushed[entry["id"]] = UndoAction(
                    description=entry["description"],
                    platform=entry["platform"],
                    verb=entry["verb"],
                    args=dict(entry.get("args", {})),
                )
                order.append(entry["id"])
            elif entry.get("state") == "done":
                pushed.pop(entry.get("id"), None)
        return [(i, pushed[i]) for i in reversed(order) if i in pushed]


class UndoStack:
    """The undos of one drill, journaled, unwound last-in first-out exactly once."""

    def __init__(self, journal: UndoJournal, executor: UndoExecutor) -> None:
        self._journal = journal
        self._executor = executor
        self._entries: list[tuple[str, UndoAction]] = []
        self._lock = threading.Lock()

    def push(self, action: UndoAction) -> None:
        entry_id = self._journal.push(action)
        with self._lock:
            self._entries.append((entry_id, action))

    def __len__(self) -> int:
        return len(self._entries)

    def unwind(self) -> list[UndoOutcome]:
        """Run every undo, newest first; one failing undo does not stop the others."""
        outcomes: list[UndoOutcome] = []
        while True:
            with self._lock:
                if not self._entries:
                    return outcomes
                entry_id, action = self._entries.pop()
            outcomes.append(_execute(self._journal, self._executor, entry_id, action))


def replay_pending(journal: UndoJournal, executor: UndoExecutor) -> list[UndoOutcome]:
    """Undo what a run that died left behind. Called before a new drill injects anything."""
    return [_execute(journal, executor, entry_id, action) for entry_id, action in journal.pending()]


def _execute(
    journal: UndoJournal, executor: UndoExecutor, entry_id: str, action: UndoAction
) -> UndoOutcome:
    try:
        executor(action)
    except Exception as exc:  # every undo is attempted; the failure is reported, not raised
        message = f"{type(exc).__name__}: {exc}"
        log.error("undo failed: %s: %s", action.description, message)
        journal.resolve(entry_id, error=message)
        return UndoOutcome(action, message)
    journal.resolve(entry_id)
    return UndoOutcome(action)
