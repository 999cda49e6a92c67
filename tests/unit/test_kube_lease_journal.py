"""The cluster's undo record merged with the local journal by entry id
(drillbook.platforms.kube_journal), and the journal's mirror hook (drillbook.engine.undo).
The ConfigMap itself is exercised in tests/k8s/test_runner_killed_on_kubernetes.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drillbook.core.undo import UndoAction
from drillbook.engine.undo import UndoJournal, replay_pending
from drillbook.platforms.kube_journal import (
    TOMBSTONE_SECONDS,
    expired_tombstones,
    local_lines,
    merge_entries,
    to_write,
)

ACTION: dict[str, Any] = {
    "description": "put back Secret s",
    "platform": "kubernetes",
    "verb": "start",
    "args": {},
}


def _pending(entry_id: str, at: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"id": entry_id, "state": "pending", "at": at, **ACTION, **extra}


def _done(entry_id: str, at: float = 2.0) -> dict[str, Any]:
    return {"id": entry_id, "state": "done", "at": at}


def test_an_undo_only_the_cluster_knows_joins_the_local_journal() -> None:
    cluster = {"a": _pending("a")}
    merged = merge_entries({}, cluster)
    assert merged == cluster
    assert local_lines({}, merged) == [_pending("a")]
    assert to_write(cluster, merged) == []  # the cluster has it already


def test_an_undo_only_the_local_journal_knows_is_written_to_the_cluster() -> None:
    local = {"a": _pending("a")}
    merged = merge_entries(local, {})
    assert to_write({}, merged) == [_pending("a")]
    assert local_lines(local, merged) == []


def test_done_on_either_side_wins_so_no_undo_runs_twice() -> None:
    # Done elsewhere (another machine replayed it) while this journal still has it pending.
    merged = merge_entries({"a": _pending("a")}, {"a": _done("a", at=5.0)})
    assert merged == {"a": {"id": "a", "state": "done", "at": 5.0}}
    assert local_lines({"a": _pending("a")}, merged) == [
        {"id": "a", "state": "done", "at": 5.0, "error": None}
    ]
    # Done here, its resolution never reached the cluster (mirror failed): the cluster learns.
    local_done = {**_pending("a"), "state": "done", "at": 3.0, "error": None}
    merged = merge_entries({"a": local_done}, {"a": _pending("a")})
    assert to_write({"a": _pending("a")}, merged) == [{"id": "a", "state": "done", "at": 3.0}]


def test_a_done_entry_the_local_journal_never_had_adds_no_line() -> None:
    merged = merge_entries({}, {"a": _done("a")})
    assert local_lines({}, merged) == []


def test_a_failed_undo_stays_to_do_with_the_later_error() -> None:
    failed = _pending("a", at=4.0, state="failed", error="HTTP 500")
    merged = merge_entries({"a": _pending("a", at=1.0)}, {"a": failed})
    assert merged["a"]["state"] == "failed" and merged["a"]["error"] == "HTTP 500"
    assert merged["a"]["verb"] == "start"  # the action is kept


def test_a_resolution_without_any_action_is_dropped() -> None:
    assert merge_entries({"a": {"id": "a", "state": "failed", "at": 1.0}}, {}) == {}


def test_old_tombstones_are_forgotten_and_pending_undos_never() -> None:
    now = 10 * TOMBSTONE_SECONDS
    record = {
        "old": _done("old", at=now - TOMBSTONE_SECONDS - 1),
        "recent": _done("recent", at=now - 60),
        "ancient-pending": _pending("ancient-pending", at=0.0),
    }
    assert expired_tombstones(record, now) == ["old"]


def test_the_journal_mirrors_each_push_before_writing_it_and_each_resolution(
    tmp_path: Path,
) -> None:
    seen: list[dict[str, Any]] = []
    journal = UndoJournal(tmp_path / "j.jsonl", mirror=seen.append)
    action = UndoAction(**ACTION)
    entry_id = journal.push(action)
    assert [(e["id"], e["state"], e["verb"]) for e in seen] == [(entry_id, "pending", "start")]
    journal.resolve(entry_id)
    assert [e["state"] for e in seen] == ["pending", "done"]
    assert journal.entries()[entry_id]["state"] == "done"


def test_a_push_the_mirror_refuses_is_not_journaled_so_its_fault_is_never_injected(
    tmp_path: Path,
) -> None:
    def refuse(entry: dict[str, Any]) -> None:
        raise OSError("API server unreachable")

    journal = UndoJournal(tmp_path / "j.jsonl", mirror=refuse)
    with pytest.raises(OSError):
        journal.push(UndoAction(**ACTION))
    assert journal.pending() == []


def test_a_resolution_the_mirror_fails_is_still_journaled(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "j.jsonl")
    entry_id = journal.push(UndoAction(**ACTION))

    def refuse(entry: dict[str, Any]) -> None:
        raise OSError("API server unreachable")

    journal.mirror = refuse
    outcomes = replay_pending(journal, lambda action: None)
    assert [o.ok for o in outcomes] == [True]
    assert journal.entries()[entry_id]["state"] == "done"
    assert journal.pending() == []


def test_adopted_entries_keep_their_id_and_are_replayed(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "j.jsonl")
    journal.adopt(_pending("from-the-cluster"))
    assert [entry_id for entry_id, _ in journal.pending()] == ["from-the-cluster"]
    journal.adopt({"id": "from-the-cluster", "state": "done", "at": 2.0, "error": None})
    assert journal.pending() == []
    with pytest.raises(ValueError, match="no 'id'"):
        journal.adopt({"state": "pending"})
