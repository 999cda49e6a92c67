"""The cluster drill lock's pure rules: who holds a Lease, when it has expired, what a Lease
document says (drillbook.platforms.kube_lease). The API calls are in tests/k8s/test_cluster_lock.py.
"""

from __future__ import annotations

import datetime

import pytest

from drillbook.platforms.kube_lease import (
    CLOCK_MARGIN_SECONDS,
    COMMAND_ANNOTATION,
    LeaseRecord,
    describe_holder,
    lease_record,
    lease_state,
    new_identity,
    seconds_left,
)

ME = "runner-a pid 1 run aaaa since 2026-01-01T00:00:00Z"
OTHER = "runner-b pid 2 run bbbb since 2026-01-01T00:00:00Z"


def _held(
    by: str = OTHER, renewed_at: float | None = 1000.0, duration: float = 60.0
) -> LeaseRecord:
    return LeaseRecord(holder=by, renewed_at=renewed_at, duration_seconds=duration)


def test_no_lease_or_a_released_one_is_free() -> None:
    assert lease_state(None, me=ME, now=0.0) == "free"
    assert lease_state(_held(by=""), me=ME, now=0.0) == "free"
    assert lease_state(LeaseRecord(None, None, 60.0), me=ME, now=0.0) == "free"


def test_this_runs_own_lease_is_mine_even_when_overdue() -> None:
    assert lease_state(_held(by=ME), me=ME, now=1_000_000.0) == "mine"


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (1000.0, "held"),
        (1059.0, "held"),
        # Up to the margin past the expiry the holder's renewal may be in flight on a clock
        # half a second apart: still held.
        (1060.0 + CLOCK_MARGIN_SECONDS, "held"),
        (1060.0 + CLOCK_MARGIN_SECONDS + 0.01, "expired"),
        (5000.0, "expired"),
    ],
)
def test_another_runs_lease_is_held_until_its_duration_and_the_margin_have_passed(
    now: float, state: str
) -> None:
    assert lease_state(_held(), me=ME, now=now) == state


def test_a_holder_that_never_wrote_a_renewal_time_cannot_be_told_alive() -> None:
    assert lease_state(_held(renewed_at=None), me=ME, now=0.0) == "expired"


def test_seconds_left_counts_down_to_the_expiry_and_below() -> None:
    assert seconds_left(_held(), 1030.0) == pytest.approx(30.0 + CLOCK_MARGIN_SECONDS)
    assert seconds_left(_held(), 1100.0) == pytest.approx(-40.0 + CLOCK_MARGIN_SECONDS)


def test_a_lease_document_is_read_with_the_servers_micro_times() -> None:
    record = lease_record(
        {
            "metadata": {
                "resourceVersion": "42",
                "annotations": {COMMAND_ANNOTATION: "pytest drills/monthly"},
            },
            "spec": {
                "holderIdentity": OTHER,
                "leaseDurationSeconds": 15,
                "acquireTime": "2026-01-01T00:00:00.000000Z",
                "renewTime": "2026-01-01T00:00:10.500000Z",
                "leaseTransitions": 3,
            },
        }
    )
    expected = datetime.datetime(2026, 1, 1, 0, 0, 10, 500000, datetime.UTC).timestamp()
    assert record.holder == OTHER
    assert record.renewed_at == pytest.approx(expected)
    assert (record.duration_seconds, record.resource_version, record.transitions) == (15, "42", 3)
    message = describe_holder(record, expected + 4.0)
    assert OTHER in message and "pytest drills/monthly" in message
    assert "renewed 4 s ago" in message and "expires in 12 s" in message


def test_a_lease_without_a_renewal_falls_back_to_its_acquire_time() -> None:
    record = lease_record(
        {"spec": {"holderIdentity": OTHER, "acquireTime": "2026-01-01T00:00:00.000000Z"}}
    )
    assert record.renewed_at == datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert lease_record({"spec": {}}).holder is None


def test_each_identity_names_host_pid_and_a_run_of_its_own() -> None:
    first, second = new_identity(0.0), new_identity(0.0)
    assert first != second  # two runs of one process are two holders
    assert " pid " in first and " run " in first and first.endswith("since 1970-01-01T00:00:00Z")
