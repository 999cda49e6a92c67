"""In-process fixed-window rate limiting per client IP.

Each replica counts on its own (no shared state), like a per-pod limiter. The window starts
at a multiple of the window length on the monotonic clock; when a client exceeds the limit the
caller answers 429 with `Retry-After` set to the seconds left in the window. A limit of zero
or less disables limiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """The outcome of one `FixedWindowRateLimiter.hit`."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


class FixedWindowRateLimiter:
    """Counts hits per key in fixed windows of `window_seconds`; thread-safe."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be greater than zero")
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._window_index = -1
        self._counts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        """False when the limit is zero or negative (every hit is allowed)."""
        return self.limit > 0

    def hit(self, key: str) -> Decision:
        """Count one request for `key` and say whether it may proceed."""
        if not self.enabled:
            return Decision(allowed=True, remaining=0, retry_after_seconds=0)
        now = self._clock()
        index = math.floor(now / self.window_seconds)
        with self._lock:
            if index != self._window_index:
                # A new window: forget every counter at once (also bounds memory).
                self._window_index = index
                self._counts = {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if count <= self.limit:
            return Decision(allowed=True, remaining=self.limit - count, retry_after_seconds=0)
        window_end = (index + 1) * self.window_seconds
        retry_after = max(1, math.ceil(window_end - now))
        return Decision(allowed=False, remaining=0, retry_after_seconds=retry_after)
