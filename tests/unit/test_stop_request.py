"""A SIGTERM whose KeyboardInterrupt was swallowed is raised again at the next safe point."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.core.undo import UndoAction
from drillbook.engine.interrupt import (
    forget_stop_request,
    interrupt,
    not_interrupted,
    raise_if_stop_requested,
    request_stop,
    stop_requested,
)
from drillbook.engine.undo import UndoJournal, UndoStack


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    forget_stop_request()
    yield
    forget_stop_request()


def test_nothing_requested_raises_nothing() -> None:
    assert stop_requested() is None
    raise_if_stop_requested()


# The dropped exception is exactly what this test stages; pytest reports it as unraisable.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_request_is_raised_again_after_its_first_exception_was_swallowed() -> None:
    def handler(signum: int, frame: object) -> None:
        request_stop(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:

        class Swallower:
            def __del__(self) -> None:
                # A finaliser: an exception raised here is printed and dropped by Python.
                os.kill(os.getpid(), signal.SIGTERM)

        Swallower()  # its finaliser runs at once, and the interrupt inside it is lost
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stop_requested() == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        raise_if_stop_requested()


def test_a_sigterm_while_an_undo_is_journaled_is_raised_once_it_is_registered(
    tmp_path: Path,
) -> None:
    # The race a CI run hit: SIGTERM after the journal line was written and before the undo was
    # registered in memory; the run's unwind did not know it and it stayed pending.
    def handler(signum: int, frame: object) -> None:
        interrupt(signum)

    def mirror(entry: dict[str, Any]) -> None:
        # Called inside the push, between its start and the journal write.
        os.kill(os.getpid(), signal.SIGTERM)

    journal = UndoJournal(tmp_path / "undo-journal.jsonl", mirror=mirror)
    undone: list[str] = []
    stack = UndoStack(journal, lambda action: undone.append(action.verb))
    action = UndoAction(description="start app", platform="local", verb="start", args={})
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(KeyboardInterrupt, match="signal 15"):
            stack.push(action)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(stack) == 1  # registered before the interrupt was raised
    journal.mirror = None
    assert [o.ok for o in stack.unwind()] == [True]
    assert undone == ["start"]
    assert journal.pending() == []


def test_outside_a_section_the_interrupt_is_raised_at_once() -> None:
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        interrupt(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="signal 15"), not_interrupted():
        interrupt(signal.SIGTERM)  # held, then raised as the section ends
