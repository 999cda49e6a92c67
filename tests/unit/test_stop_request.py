"""A SIGTERM whose KeyboardInterrupt was swallowed is raised again at the next safe point."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from drillbook.engine.interrupt import (
    forget_stop_request,
    raise_if_stop_requested,
    request_stop,
    stop_requested,
)


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
