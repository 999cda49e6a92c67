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
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from drillbook.core.private_files import write_private
from drillbook.core.undo import UndoAction, UndoExecutor, UndoOutcome
from drillbook.engine.interrupt import not_interrupted
from drillbook.errors import UndoJournalDamaged

log = logging.getLogger(__name__)


_STATES = ("pending", "done", "failed")
_ACTION_TEXT = ("description", "platform", "verb")

JournalMirror = Callable[[dict[str, Any]], None]
"""Receives every entry the journal writes, to keep a copy elsewhere (a cluster's own record
of its pending undos: drillbook.platforms.kube_journal). Called before a push is written, so a
push it refuses injects nothing; its failure on a resolution is logged, never raised."""


class UndoJournal:
    """An append-only JSON-lines file of pushed and completed undo entries.

    Opening it repairs what a crash can leave: a torn last line (the push or resolution that
    was being written; its fault was never injected, or its undo is replayed again) is cut
    off, so the next entry starts on a line of its own instead of being glued to the torn one
    and lost to replay. Entries that cannot be replayed are moved aside (`rejected`), once.
    """

    def __init__(self, path: Path, mirror: JournalMirror | None = None) -> None:
        self.path = path
        self.mirror = mirror
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = _cut_torn_tail(path)
        """Bytes of a torn last line cut off when the journal was opened (0: none)."""

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def push(self, action: UndoAction) -> str:
        entry_id = uuid.uuid4().hex
        entry = {"id": entry_id, "state": "pending", "at": time.time(), **asdict(action)}
        if self.mirror is not None:
            self.mirror(entry)
        self._append(entry)
        return entry_id

    def resolve(self, entry_id: str, error: str | None = None) -> None:
        state = "done" if error is None else "failed"
        entry = {"id": entry_id, "state": state, "at": time.time(), "error": error}
        self._append(entry)
        if self.mirror is not None:
            try:
                self.mirror(entry)
            except Exception as exc:  # the undo ran; a stale copy is replayed again, harmlessly
                log.warning("undo journal %s: copy of %s not updated: %s", self.path, state, exc)

    def entries(self) -> dict[str, dict[str, Any]]:
        """Each entry's latest state by id: its action, as pushed, with its last resolution
        (state, at, error) laid over it. Lines that cannot be parsed are left to `pending`."""
        if not self.path.exists():
            return {}
        folded: dict[str, dict[str, Any]] = {}
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            entry = _parse_entry(raw)[0] if raw.strip() else None
            if entry is not None:
                folded[entry["id"]] = {**folded.get(entry["id"], {}), **entry}
        return folded

    def adopt(self, entry: dict[str, Any]) -> None:
        """Append an entry recorded elsewhere (its id kept; not mirrored back)."""
        parsed, why = _parse_entry(json.dumps(entry))
        if parsed is None:
            raise ValueError(f"not a journal entry ({why}): {sorted(entry)}")
        self._append(parsed)

    def pending(self) -> list[tuple[str, UndoAction]]:
        """Entries pushed but never resolved as done, newest first (the order to undo them).

        An entry that cannot be replayed (not JSON, a field missing) is moved to
        `<journal>.rejected` and the journal rewritten without it, then UndoJournalDamaged
        names it: raised once, not on every later run."""
        if not self.path.exists():
            return []
        pushed: dict[str, UndoAction] = {}
        order: list[str] = []
        rejected: list[tuple[int, str, str]] = []
        for number, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            entry, why = _parse_entry(raw)
            if entry is None:
                rejected.append((number, raw, why))
                continue
            if entry["state"] == "pending":
                pushed[entry["id"]] = UndoAction(
                    description=entry["description"],
                    platform=entry["platform"],
                    verb=entry["verb"],
                    args=dict(entry["args"]),
                )
                order.append(entry["id"])
            elif entry["state"] == "done":
                pushed.pop(entry["id"], None)
        if rejected:
            self._reject(rejected)
        return [(i, pushed[i]) for i in reversed(order) if i in pushed]

    def _reject(self, rejected: list[tuple[int, str, str]]) -> None:
        aside = self.path.with_name(self.path.name + ".rejected")
        with open(aside, "a", encoding="utf-8") as fh:
            fh.writelines(raw + "\n" for _, raw, _ in rejected)
            fh.flush()
            os.fsync(fh.fileno())
        keep = {number for number, _, _ in rejected}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        _rewrite(self.path, [line for n, line in enumerate(lines, 1) if n not in keep])
        shown = "; ".join(f"line {n}: {why}" for n, _, why in rejected[:5])
        raise UndoJournalDamaged(
            f"the undo journal {self.path} held {len(rejected)} entr"
            f"{'y' if len(rejected) == 1 else 'ies'} drillbook cannot replay ({shown}). "
            f"They were moved to {aside}: read what they describe and check that part of the "
            "target by hand before drilling it again; nothing was injected."
        )

    def compact(self) -> int:
        """Rewrite the journal with only its pending entries (atomically: temporary file,
        fsync, rename); returns how many lines were dropped. Called when nothing else
        writes to it: right after the replay, under the target's lock."""
        if not self.path.exists():
            return 0
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            live = {entry_id for entry_id, _ in self.pending()}
            kept = [
                line
                for line in lines
                if (entry := _parse_entry(line)[0]) is not None
                and entry["state"] == "pending"
                and entry["id"] in live
            ]
            if len(kept) == len(lines):
                return 0
            _rewrite(self.path, kept)
            return len(lines) - len(kept)


def _parse_entry(raw: str) -> tuple[dict[str, Any] | None, str]:
    """A journal line as an entry, or None and why it cannot be replayed."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return None, "not JSON"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    if not isinstance(entry.get("id"), str) or not entry["id"]:
        return None, "no 'id'"
    if entry.get("state") not in _STATES:
        return None, f"state {entry.get('state')!r} is none of {', '.join(_STATES)}"
    if entry["state"] == "pending":
        missing = [k for k in _ACTION_TEXT if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            return None, f"a pending entry without {', '.join(missing)}"
        if not isinstance(entry.get("args", {}), dict):
            return None, "'args' is not a JSON object"
        entry.setdefault("args", {})
    return entry, ""


def _cut_torn_tail(path: Path) -> int:
    """Truncate the file after its last newline; returns the bytes cut."""
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return 0
            fh.seek(0)
            content = fh.read()
            keep = content.rfind(b"\n") + 1
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    except FileNotFoundError:
        return 0
    log.warning("undo journal %s: cut a torn last line (%d bytes)", path, size - keep)
    return size - keep


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace the file's lines atomically (drillbook.core.private_files: a new owner-only file,
    fsynced, renamed), then fsync the directory so the rename itself survives a crash."""
    write_private(path, "".join(line + "\n" for line in lines))
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class UndoStack:
    """The undos of one drill, journaled, unwound last-in first-out exactly once."""

    def __init__(self, journal: UndoJournal, executor: UndoExecutor) -> None:
        self._journal = journal
        self._executor = executor
        self._entries: list[tuple[str, UndoAction]] = []
        self._lock = threading.Lock()

    def push(self, action: UndoAction) -> None:
        # Journaled and registered together: a SIGTERM between the two would leave an undo
        # pending on disk that this run's unwind does not know (replayed only by the next run).
        with not_interrupted():
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
