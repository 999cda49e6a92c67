"""The undo journal survives what a crash leaves: torn lines, entries that cannot be replayed,
and a journal that only grows; a replay that fails stops the run before anything is injected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drillbook.core.undo import UndoAction
from drillbook.engine.undo import UndoJournal, UndoStack, replay_pending
from drillbook.errors import UndoJournalDamaged

ACTION = UndoAction(
    description="bring app back", platform="local", verb="reconcile", args={"component": "app"}
)
OTHER = UndoAction(description="start cache", platform="local", verb="start", args={"c": "x"})


def test_a_torn_last_line_is_cut_so_the_next_entry_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    first = UndoJournal(path)
    first.push(ACTION)
    # A crash in the middle of writing the next push: half a line, no newline.
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "torn", "state": "pend')
    reopened = UndoJournal(path)
    assert reopened.repaired_bytes == len('{"id": "torn", "state": "pend')
    reopened.push(OTHER)
    pending = [action for _, action in UndoJournal(path).pending()]
    # Before the repair, OTHER was glued to the torn line and invisible to the replay.
    assert pending == [OTHER, ACTION]


def test_an_entry_that_cannot_be_replayed_is_moved_aside_once(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    journal = UndoJournal(path)
    journal.push(ACTION)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "x1", "state": "pending", "platform": "local"}) + "\n")
    with pytest.raises(
        UndoJournalDamaged, match=r"line 2: a pending entry without description, verb"
    ):
        journal.pending()
    rejected = path.with_name("undo.jsonl.rejected").read_text(encoding="utf-8")
    assert '"id": "x1"' in rejected
    # Raised once: the next run sees the replayable entry and nothing else.
    assert [action for _, action in UndoJournal(path).pending()] == [ACTION]


def test_done_entries_are_compacted_and_pending_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    journal = UndoJournal(path)
    stack = UndoStack(journal, lambda action: None)
    for _ in range(5):
        stack.push(ACTION)
    stack.unwind()
    journal.push(OTHER)  # a pending entry of a run that died
    assert len(path.read_text().splitlines()) == 11
    assert journal.compact() == 10
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["verb"] == "start"
    assert [action for _, action in journal.pending()] == [OTHER]
    assert journal.compact() == 0


def test_a_failed_undo_stays_pending_for_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    journal = UndoJournal(path)
    journal.push(ACTION)

    def broken(action: UndoAction) -> None:
        raise RuntimeError("supervisord is not answering")

    (outcome,) = replay_pending(journal, broken)
    assert not outcome.ok and "supervisord is not answering" in (outcome.error or "")
    journal.compact()
    assert [action for _, action in UndoJournal(path).pending()] == [ACTION]


def test_a_file_is_put_back_whole_with_its_mode(tmp_path: Path) -> None:
    from drillbook.platforms.local import _replace_atomically

    target = tmp_path / "pg_control"
    target.write_bytes(b"damaged" * 100)
    target.chmod(0o600)
    _replace_atomically(target, b"original" * 1000)
    assert target.read_bytes() == b"original" * 1000
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pg_control"]  # no temporary left
