"""Stop conditions: what aborts a drill and undoes its fault at once.

The watch runs in its own thread beside the prober and polls every stop check once per probe
interval. The first check that fires wins: the drill's undo stack is unwound from the watch's
thread at that moment (the drill's own thread may be inside a recovery step that takes
minutes), and the drill raises DrillAborted at its next wait. A check is a function that
returns why the drill must stop, or None; the checks that need the network (alarms) are built
by the assembly, the error-rate bound and the halt request here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from drillbook.config.durations import format_duration
from drillbook.config.model import StopSettings
from drillbook.core.clock import Clock
from drillbook.core.timeline import UNHEALTHY, Timeline

StopCheck = Callable[[], str | None]
"""Returns why the drill must stop now, or None."""

MIN_SAMPLES_FOR_A_RATE = 8
"""An error rate of 2 samples out of 3 says little; the bound is judged on at least this many."""


def error_rate_check(
    settings: StopSettings,
    timeline: Timeline,
    probe_names: Sequence[str],
    fault_at: Callable[[], float | None],
    clock: Clock,
) -> StopCheck | None:
    """Fires when, past the expected outage, the probes' recent error rate exceeds the bound."""
    bound = settings.error_rate_max
    if bound is None:
        return None

    def check() -> str | None:
        # Read at every check: a drill may count its critical endpoints in from the start.
        names = set(probe_names)
        since = fault_at()
        now = clock.monotonic()
        if since is None or now - since < settings.expected_outage_seconds:
            return None
        start = max(since + settings.expected_outage_seconds, now - settings.error_window_seconds)
        recent = [s for s in timeline.samples if s.probe in names and s.sent_at >= start]
        if len(recent) < MIN_SAMPLES_FOR_A_RATE:
            return None
        failed = sum(1 for s in recent if s.status in UNHEALTHY)
        rate = failed / len(recent)
        if rate <= bound:
            return None
        return (
            f"stop condition: {failed} of {len(recent)} probe samples ({rate:.0%}) failed in the "
            f"last {format_duration(now - start)}, above stop.error_rate_max {bound:g}, "
            f"{format_duration(now - since)} after the fault (expected outage: "
            f"{format_duration(settings.expected_outage_seconds)})"
        )

    return check


def halt_request_path(journal: Path) -> Path:
    """Where `drillbook halt` asks the run holding this journal to stop."""
    return journal.with_suffix(".halt")


def halt_check(request: Path) -> StopCheck:
    """Fires when `drillbook halt` has left a request file for this target."""

    def check() -> str | None:
        try:
            who = request.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            who = f"a request that could not be read: {exc}"
        return f"halted: {who or 'drillbook halt'}"

    return check


class StopWatch:
    """Polls the stop checks until one fires (then calls `on_stop` once) or it is stopped."""

    def __init__(
        self,
        checks: Sequence[StopCheck],
        *,
        interval_seconds: float,
        on_stop: Callable[[str], None],
        max_polls: int = 1_000_000,
    ) -> None:
        self._checks = list(checks)
        self._interval = interval_seconds
        self._on_stop = on_stop
        self._max_polls = max_polls  # bounded like the prober, whatever the drill does
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: str | None = None
        self.check_errors: list[str] = []
        """Checks that could not be made (an alarm unreachable), the first few."""

    def start(self) -> None:
        if self._thread is not None or not self._checks:
            return
        self._thread = threading.Thread(target=self._loop, name="drillbook-stop", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        for _ in range(self._max_polls):
            for check in self._checks:
                try:
                    reason = check()
                except Exception as exc:  # an unreachable alarm is not a reason to abort
                    reason = None
                    if len(self.check_errors) < 10:
                        self.check_errors.append(repr(exc))
                if reason is not None:
                    self.fired = reason
                    self._on_stop(reason)
                    return
            if self._stop.wait(self._interval):
                return

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
