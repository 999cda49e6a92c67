"""Whether this process was asked to stop (SIGTERM), remembered beyond the exception.

The signal handler raises KeyboardInterrupt where the main thread happens to be; if that is
inside code that swallows it (a finaliser run by the garbage collector, a library's broad
`except BaseException`), the request would be lost and a drill that CI cancelled would run on
to a green result. The flag keeps it: the drill's waits and the pytest session check it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_requested = threading.Event()
_signal: list[int] = []
_section_depth = 0
_held: list[int] = []


def interrupt(signum: int) -> None:
    """What the SIGTERM handler does: remember the request, and raise KeyboardInterrupt now,
    unless the main thread is inside a `not_interrupted` section (then at its end)."""
    request_stop(signum)
    if _section_depth > 0:
        _held[:] = [signum]
        return
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def not_interrupted() -> Iterator[None]:
    """A few steps that must happen together or not at all (an undo journaled on disk and
    registered in memory): a signal arriving inside is raised when the section ends."""
    global _section_depth
    _section_depth += 1
    try:
        yield
    finally:
        _section_depth -= 1
    if _section_depth == 0 and _held:
        signum = _held[0]
        _held.clear()
        raise KeyboardInterrupt(f"signal {signum}")


def request_stop(signum: int) -> None:
    """Remember that signal `signum` asked this process to stop."""
    _signal[:] = [signum]
    _requested.set()


def stop_requested() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _signal[0] if _requested.is_set() and _signal else None


def raise_if_stop_requested() -> None:
    """Raise KeyboardInterrupt again if a stop was requested (and its first raise was lost)."""
    signum = stop_requested()
    if signum is not None:
        raise KeyboardInterrupt(f"signal {signum}")


def forget_stop_request() -> None:
    """For tests of the mechanism only."""
    _requested.clear()
    _signal.clear()
    _held.clear()
