"""Ports handed out are reserved machine-wide: another run (another process) skips a port
reserved by a live process until the reservation expires; a dead holder's or an expired
reservation is taken over; one process never gets the same reserved port twice."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drillbook.platforms import ports


@pytest.fixture(autouse=True)
def private_reservations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "reservations"
    monkeypatch.setattr(ports, "reservations_dir", lambda: directory)
    return directory


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_port_reserved_by_a_live_process_is_skipped(private_reservations: Path) -> None:
    private_reservations.mkdir()
    seed = 1234
    first = random.Random(seed).randint(ports.LOW, ports.HIGH)
    (private_reservations / str(first)).write_text(f"{os.getppid()}\n")  # alive: our parent
    chosen = ports.free_ports(1, rng=random.Random(seed))
    assert chosen != [first]
    assert (private_reservations / str(chosen[0])).read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("why", ["dead holder", "expired"])
def test_a_stale_reservation_is_taken_over(private_reservations: Path, why: str) -> None:
    private_reservations.mkdir()
    # A seed whose first port is free now, so the takeover is what the test sees (no skip).
    seed = next(
        n
        for n in range(1000)
        if ports.port_is_free(random.Random(n).randint(ports.LOW, ports.HIGH))
    )
    first = random.Random(seed).randint(ports.LOW, ports.HIGH)
    path = private_reservations / str(first)
    holder = _dead_pid() if why == "dead holder" else os.getppid()
    path.write_text(f"{holder}\n")
    if why == "expired":
        old = time.time() - ports.RESERVATION_SECONDS - 5
        os.utime(path, (old, old))
    assert ports.free_ports(1, rng=random.Random(seed)) == [first]
    assert path.read_text().strip() == str(os.getpid())


def test_one_process_never_gets_a_reserved_port_twice() -> None:
    # The same random sequence twice: the second call must step past every port of the first.
    first = ports.free_ports(20, rng=random.Random(7))
    second = ports.free_ports(20, rng=random.Random(7))
    assert len(set(first)) == 20
    assert not set(first) & set(second)
