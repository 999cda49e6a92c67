"""The column-wise ledger check agrees with the plain loop it replaced, on random ledgers.

check_ledger works a column at a time (C-level map/zip/compare) for speed; `loop_check` below
is the per-write loop it replaced, kept as the oracle: every rule (first copy kept, duplicates
in store order, lost oldest first, altered only when both hashes are known, reordered counted
against the last in-order position) must come out the same.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

import pytest

from drillbook.ledger.acks import Acknowledgement
from drillbook.ledger.checker import LedgerCheck, StoredRecord, check_ledger


def loop_check(
    acks: Sequence[Acknowledgement],
    stored: Sequence[StoredRecord],
    *,
    attempted: Collection[str],
    fault_at: float | None,
    checked_at: float,
) -> LedgerCheck:
    by_trace: dict[str, StoredRecord] = {}
    duplicated: list[str] = []
    for record in stored:
        if record.trace_id in by_trace:
            duplicated.append(record.trace_id)
        else:
            by_trace[record.trace_id] = record
    lost: list[Acknowledgement] = []
    altered: list[str] = []
    reordered = 0
    found = 0
    last_position = -1
    for ack in acks:
        kept = by_trace.get(ack.trace_id)
        if kept is None:
            lost.append(ack)
            continue
        found += 1
        if ack.record_hash and kept.record_hash and ack.record_hash != kept.record_hash:
            altered.append(ack.trace_id)
        if kept.position < last_position:
            reordered += 1
        else:
            last_position = kept.position
    attempted_set = set(attempted)
    unexpected = sorted(by_trace.keys() - attempted_set)
    reference_at = fault_at if fault_at is not None else checked_at
    lost.sort(key=lambda ack: ack.ack_monotonic)
    oldest = min((ack.ack_monotonic for ack in lost), default=reference_at)
    return LedgerCheck(
        acknowledged=len(acks),
        attempted=len(attempted_set),
        found=found,
        lost=tuple(lost),
        duplicated=tuple(dict.fromkeys(duplicated)),
        unexpected=tuple(unexpected),
        unacknowledged_stored=len(by_trace) - found - len(unexpected),
        altered=tuple(altered),
        reordered=reordered,
        rpo_seconds=max(0.0, reference_at - oldest) if lost else 0.0,
        reference="fault" if fault_at is not None else "check",
        lost_after_reference=sum(1 for ack in lost if ack.ack_monotonic > reference_at),
    )


def random_ledger(
    rng: random.Random, size: int
) -> tuple[list[Acknowledgement], list[StoredRecord], set[str]]:
    """Acknowledged writes and a store that lost, duplicated, reordered, altered some."""
    acks = [
        Acknowledgement(
            seq,
            f"drill-r-{seq}",
            seq * 0.2,
            seq * 0.2 + rng.random() * 0.1,  # acknowledgements can arrive out of order
            1.7e9 + seq,
            rng.choice([f"h{seq}", None]) if rng.random() < 0.2 else f"h{seq}",
            seq,
        )
        for seq in range(1, size + 1)
    ]
    stored: list[StoredRecord] = []
    for ack in acks:
        roll = rng.random()
        if roll < 0.1:
            continue  # lost
        digest = rng.choice(["altered", None]) if rng.random() < 0.05 else f"h{ack.seq}"
        stored.append(StoredRecord(ack.trace_id, ack.seq, digest))
        if roll > 0.95:
            stored.append(StoredRecord(ack.trace_id, ack.seq + size, f"h{ack.seq}"))  # twice
    extra = [StoredRecord(f"drill-r-{size + n}", 10 * size + n, None) for n in range(1, 4)]
    stored += extra
    for _ in range(rng.randint(0, 5)):  # a few swapped neighbours: stored out of order
        i = rng.randrange(max(1, len(stored) - 1))
        stored[i : i + 2] = stored[i : i + 2][::-1]
    # One of the extra records was sent (not acknowledged), the others never were.
    attempted = {ack.trace_id for ack in acks} | {extra[0].trace_id}
    return acks, stored, attempted


@pytest.mark.parametrize("seed", range(40))
def test_column_wise_check_agrees_with_the_loop(seed: int) -> None:
    rng = random.Random(seed)
    acks, stored, attempted = random_ledger(rng, rng.choice([0, 1, 2, 10, 200]))
    fault_at = rng.choice([None, 5.0, 20.0])

    expected = loop_check(acks, stored, attempted=attempted, fault_at=fault_at, checked_at=50.0)
    got = check_ledger(acks, stored, attempted=attempted, fault_at=fault_at, checked_at=50.0)
    assert got == expected


def test_the_random_ledgers_exercise_every_rule() -> None:
    # The agreement above means something only if the ledgers break every rule somewhere.
    totals = dict.fromkeys(
        ("lost", "duplicated", "unexpected", "altered", "reordered", "unacknowledged"), 0
    )
    for seed in range(40):
        rng = random.Random(seed)
        acks, stored, attempted = random_ledger(rng, rng.choice([0, 1, 2, 10, 200]))
        result = check_ledger(acks, stored, attempted=attempted, fault_at=5.0, checked_at=50.0)
        for name in ("lost", "duplicated", "unexpected", "altered"):
            totals[name] += len(getattr(result, name))
        totals["reordered"] += result.reordered
        totals["unacknowledged"] += result.unacknowledged_stored
    assert all(total > 0 for total in totals.values()), totals


def aligned_ledger(size: int) -> tuple[list[Acknowledgement], list[StoredRecord]]:
    """Every acknowledged write stored once, in order: the usual read-back."""
    acks = [
        Acknowledgement(seq, f"drill-r-{seq}", seq * 0.2, seq * 0.2 + 0.01, 1.7e9, f"h{seq}", seq)
        for seq in range(1, size + 1)
    ]
    return acks, [StoredRecord(a.trace_id, a.seq, a.record_hash) for a in acks]


@pytest.mark.parametrize(
    "shape",
    ["intact", "altered", "unexpected", "acknowledged twice", "out of position", "one extra"],
)
def test_aligned_read_backs_agree_with_the_loop(shape: str) -> None:
    # check_ledger takes a shortcut when the store holds exactly the acknowledged writes in
    # acknowledgement order; these are the shapes at the edge of that shortcut.
    acks, stored = aligned_ledger(50)
    attempted = {a.trace_id for a in acks}
    if shape == "altered":
        stored[7] = StoredRecord(stored[7].trace_id, stored[7].position, "tampered")
    elif shape == "unexpected":
        attempted.discard(acks[3].trace_id)  # stored, but this writer never sent it
    elif shape == "acknowledged twice":
        acks.append(acks[10])  # the same write acknowledged twice...
        stored.append(stored[10])  # ... and stored twice
    elif shape == "out of position":
        stored[5] = StoredRecord(stored[5].trace_id, 1000, stored[5].record_hash)
    elif shape == "one extra":
        stored.append(StoredRecord("drill-r-999", 999, None))
        attempted.add("drill-r-999")

    expected = loop_check(acks, stored, attempted=attempted, fault_at=4.0, checked_at=50.0)
    assert check_ledger(acks, stored, attempted=attempted, fault_at=4.0, checked_at=50.0) == (
        expected
    )
    assert expected.intact == (shape in ("intact", "out of position", "one extra"))
