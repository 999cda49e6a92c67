"""The background prober: samples every configured probe at a fixed interval.

The schedule is anchored to the start time (t0 + k * interval) so that slow answers do not
make the interval drift; a probe whose answer takes longer than the interval skips the ticks it
missed rather than bunching requests up, which would hammer a recovering target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from drillbook.core.clock import Clock
from drillbook.core.timeline import Sample, Timeline

SampleFn = Callable[[Clock], Sample]


class BackgroundProber:
    """Runs each sampler in its own thread until stopped; writes samples into the timeline."""

    def __init__(
        self,
        samplers: Sequence[SampleFn],
        timeline: Timeline,
        clock: Clock,
        *,
        interval_seconds: float,
        max_samples: int = 100_000,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be > 0")
        self._samplers = list(samplers)
        self._timeline = timeline
        self._clock = clock
        self._interval = interval_seconds
        # Bounded by count as well as by the drill's deadlines, so a forgotten prober stops.
        self._max_samples = max_samples
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        origin = self._clock.monotonic()
        for index, sampler in enumerate(self._samplers):
            thread = threading.Thread(
                target=self._loop,
                args=(sampler, origin),
                name=f"drillbook-prober-{index}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _loop(self, sampler: SampleFn, origin: float) -> None:
        tick = 0
        for _ in range(self._max_samples):
            if self._stop.is_set():
                return
            self._timeline.add_sample(sampler(self._clock))
            now = self._clock.monotonic()
            tick = max(tick + 1, int((now - origin) / self._interval) + 1)
            delay = origin + tick * self._interval - now
            if self._stop.wait(max(0.0, delay)):
                return

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)
