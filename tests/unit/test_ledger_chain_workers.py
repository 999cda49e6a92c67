"""Chain verification in forked workers ends, whatever SIGTERM handler the parent has.

drillbook's pytest plugin turns SIGTERM into KeyboardInterrupt; forked pool workers inherited
that, and Pool.terminate's SIGTERM then surfaced inside multiprocessing's queue code, where it
could leave a lock taken and the verification waiting forever (about 1 test run in 6).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

import pytest

from drillbook.ledger import chain as chain_module
from drillbook.ledger.chain import ChainProblem


def raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def sigterm_raises() -> Iterator[None]:
    """SIGTERM handled as drillbook's plugin handles it, for the duration of a test."""
    previous = signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_sigterm_handler(
    rows: Sequence[Mapping[str, Any]], columns: Any, first: int
) -> list[ChainProblem]:
    """A scan that reports, as a problem, what SIGTERM does in the process running it."""
    handler = signal.getsignal(signal.SIGTERM)
    return [ChainProblem("tampered", first, None, "default" if handler == signal.SIG_DFL else "x")]


def test_workers_die_on_sigterm(monkeypatch: pytest.MonkeyPatch, sigterm_raises: None) -> None:
    monkeypatch.setattr(chain_module, "_PARALLEL_MINIMUM", 4)
    monkeypatch.setattr(chain_module, "_SCAN_BATCH", 5)
    records = [{"trace_id": f"t-{n}", "prev_hash": "", "record_hash": ""} for n in range(10)]

    report = chain_module._verify(
        "evidence_records", records, report_sigterm_handler, genesis="", workers=2
    )
    scanned = [p for p in report.problems if p.kind == "tampered"]
    assert [p.position for p in scanned] == [0, 5]
    assert {p.detail for p in scanned} == {"default"}  # in both workers
    assert signal.getsignal(signal.SIGTERM) is raise_keyboard_interrupt  # the parent's is kept
