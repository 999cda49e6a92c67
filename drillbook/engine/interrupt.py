"""Whether this process was asked to stop (SIGTERM), remembered beyond the exception.

The signal handler raises KeyboardInterrupt where the main thread happens to be; if that is
inside code that swallows it (a finaliser run by the garbage collector, a library's broad
`except BaseException`), the request would be lost and a drill that CI cancelled would run on
to a green result. The flag keeps it: the drill's waits and the pytest session check it.
"""

from __future__ import annotations

import threading

_requested = threading.Event()
_signal: list[int] = []


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
