"""The ledger check with invented numbers: lost, duplicated, reordered, altered, RPO."""

from __future__ import annotations

import pytest

from drillbook.config.model import Objectives
from drillbook.ledger.acks import Acknowledgement
from drillbook.ledger.checker import StoredRecord, check_ledger, recovery_point_seconds
from drillbook.ledger.writer import breaches_of

RUN = "drill-r1-"


def ack(seq: int, at: float) -> Acknowledgement:
    """Write `seq`, acknowledged at monotonic time `at`."""
    return Acknowledgement(seq, f"{RUN}{seq}", at - 0.01, at, 1.7e9 + at, f"h{seq}", seq)


def stored(*seqs: int) -> list[StoredRecord]:
    return [StoredRecord(f"{RUN}{seq}", position, f"h{seq}") for position, seq in enumerate(seqs)]


def acks_at(*times: float) -> list[Acknowledgement]:
    return [ack(i + 1, t) for i, t in enumerate(times)]


def sent(acks: list[Acknowledgement], *extra: int) -> set[str]:
    return {a.trace_id for a in acks} | {f"{RUN}{n}" for n in extra}


def test_nothing_lost_is_intact_with_rpo_zero() -> None:
    acks = acks_at(10.0, 10.2, 10.4)
    result = check_ledger(acks, stored(1, 2, 3), attempted=sent(acks), fault_at=11.0, checked_at=20)

    assert result.intact
    assert (result.acknowledged, result.found, len(result.lost)) == (3, 3, 0)
    assert result.rpo_seconds == 0.0
    assert breaches_of(result, records="evidence", objectives=Objectives()) == []


def test_lost_writes_are_listed_oldest_first_and_give_the_rpo() -> None:
    acks = acks_at(10.0, 10.2, 10.4, 10.6)
    # 2 and 4 survived, 1 and 3 did not: the loss reaches back to write 1's acknowledgement.
    result = check_ledger(acks, stored(2, 4), attempted=sent(acks), fault_at=11.0, checked_at=20)

    assert [a.seq for a in result.lost] == [1, 3]
    assert result.rpo_seconds == pytest.approx(11.0 - 10.0)
    assert result.reference == "fault"
    assert not result.intact
    assert result.first_lost()[0]["trace_id"] == f"{RUN}1"


def test_rpo_is_measured_from_the_check_when_there_was_no_fault() -> None:
    acks = acks_at(10.0, 12.0)
    result = check_ledger(acks, stored(1), attempted=sent(acks), fault_at=None, checked_at=15.0)

    assert result.reference == "check"
    assert result.rpo_seconds == pytest.approx(3.0)


def test_writes_lost_after_the_fault_count_but_do_not_raise_the_rpo() -> None:
    acks = acks_at(10.0, 12.0)
    result = check_ledger(acks, stored(1), attempted=sent(acks), fault_at=11.0, checked_at=20.0)

    assert len(result.lost) == 1
    assert result.lost_after_reference == 1
    assert result.rpo_seconds == 0.0
    # ... and the evidence objective, a count, still catches them.
    breaches = breaches_of(result, records="evidence", objectives=Objectives())
    assert len(breaches) == 1 and breaches[0].startswith("RPO breach: 1 acknowledged evidence")


def test_recovery_point_of_nothing_lost_is_zero() -> None:
    assert recovery_point_seconds([], 100.0) == 0.0


def test_empty_ledger() -> None:
    result = check_ledger([], [], attempted=set(), fault_at=5.0, checked_at=6.0)

    assert result.intact
    assert (result.acknowledged, result.attempted, result.found, result.rpo_seconds) == (
        0,
        0,
        0,
        0.0,
    )
    assert result.figures()["first_lost"] == []


def test_duplicated_records_are_found() -> None:
    acks = acks_at(1.0, 2.0)
    result = check_ledger(acks, stored(1, 2, 2), attempted=sent(acks), fault_at=3, checked_at=4)

    assert result.duplicated == (f"{RUN}2",)
    assert not result.lost
    assert not result.intact


def test_reordered_records_are_counted() -> None:
    acks = acks_at(1.0, 2.0, 3.0, 4.0)
    # Stored as 1, 3, 2, 4: write 2 sits after write 3 although it was acknowledged first.
    result = check_ledger(acks, stored(1, 3, 2, 4), attempted=sent(acks), fault_at=5, checked_at=6)

    assert result.reordered == 1
    assert not result.lost


def test_unexpected_and_unacknowledged_stored_are_told_apart() -> None:
    acks = acks_at(1.0, 2.0)
    # 3 was sent but never acknowledged (the answer was lost): stored anyway, legitimately.
    # 9 was never sent by this writer at all: unexpected.
    result = check_ledger(
        acks, stored(1, 2, 3, 9), attempted=sent(acks, 3), fault_at=5, checked_at=6
    )

    assert result.unacknowledged_stored == 1
    assert result.unexpected == (f"{RUN}9",)


def test_altered_records_are_found_by_their_acknowledged_hash() -> None:
    acks = acks_at(1.0, 2.0)
    records = [StoredRecord(f"{RUN}1", 0, "h1"), StoredRecord(f"{RUN}2", 1, "something else")]
    result = check_ledger(acks, records, attempted=sent(acks), fault_at=5, checked_at=6)

    assert result.altered == (f"{RUN}2",)
    assert not result.intact


def test_rpo_objective_for_other_data() -> None:
    acks = acks_at(100.0, 500.0)
    # Write 1 lost: the loss reaches 400 s back before the fault at 500 s; the plan allows 300.
    result = check_ledger(acks, stored(2), attempted=sent(acks), fault_at=500.0, checked_at=600)

    breaches = breaches_of(result, records="other", objectives=Objectives())
    assert len(breaches) == 1
    assert breaches[0].startswith("RPO breach: writes acknowledged up to 400.000s before the fault")
    assert "5m" in breaches[0]
    # Within the objective: not a breach for other data, but evidence allows no loss at all.
    near = check_ledger(
        acks_at(1.0, 2.0), stored(2), attempted=sent(acks), fault_at=3.0, checked_at=4
    )
    assert breaches_of(near, records="other", objectives=Objectives()) == []
    assert len(breaches_of(near, records="evidence", objectives=Objectives())) == 1


def test_evidence_loss_allowed_is_honoured() -> None:
    acks = acks_at(1.0, 2.0)
    result = check_ledger(acks, stored(2), attempted=sent(acks), fault_at=3.0, checked_at=4.0)
    lenient = Objectives(evidence_loss_allowed=1)

    assert breaches_of(result, records="evidence", objectives=lenient) == []
