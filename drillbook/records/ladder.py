"""The plan's notification ladder as a pure state machine: events and the clock in, messages out.

What goes out when (the `[notify]` table):
- a drill starts: the at-once rungs (after = "0s") are told;
- a drill fails (red, broken, aborted): the first failure of the run opens the incident and the
  at-once rungs hear it with the figures; every failure after it goes to each rung reached;
- while the run goes on with the incident open: a rung whose `after` has passed since the first
  failure is reached (told what failed so far), and every `status_every` each rung reached gets
  a status update;
- the run ends: the at-once rungs and every rung reached get the run's summary.

No clock is read here: every method takes `now` (monotonic seconds), so tests move time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drillbook.config.model import LadderRung, NotifySettings
from drillbook.core.record import DrillRecord
from drillbook.core.redaction import REDACTOR
from drillbook.records.figures import RED_OUTCOMES, drill_name, figures_line

__all__ = ["Channel", "LadderState", "Outgoing"]


@dataclass(frozen=True)
class Channel:
    """Where a message goes: a webhook by name, or an email address."""

    kind: str
    """"webhook" or "email"."""
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel."""

    channel: Channel
    event: str
    """"drill-started", "drill-failed", "escalation", "status" or "run-finished"."""
    subject: str
    text: str


def _channels(rung: LadderRung) -> list[Channel]:
    return [Channel("webhook", name) for name in rung.webhooks] + [
        Channel("email", address) for address in rung.email
    ]


class LadderState:
    """Who has been told what, for one run."""

    def __init__(self, settings: NotifySettings, *, run_label: str) -> None:
        self._settings = settings
        self._run = run_label
        self._failures: list[DrillRecord] = []
        self._recorded = 0
        self._first_failure_at: float | None = None
        self._reached: set[int] = set()
        self._last_status_at: float | None = None
        self._finished = False

    @property
    def incident_open(self) -> bool:
        return self._first_failure_at is not None and not self._finished

    def _at_once(self) -> list[int]:
        return [i for i, rung in enumerate(self._settings.ladder) if rung.after_seconds <= 0]

    def _send(self, rungs: Sequence[int], event: str, subject: str, text: str) -> list[Outgoing]:
        channels = list(
            dict.fromkeys(c for i in rungs for c in _channels(self._settings.ladder[i]))
        )
        subject, text = REDACTOR.redact(subject), REDACTOR.redact(text)
        return [Outgoing(channel, event, subject, text) for channel in channels]

    def started(self, title: str, now: float) -> list[Outgoing]:
        return self._send(
            self._at_once(),
            "drill-started",
            f"[drillbook] drill started: {title}",
            f"Drill started ({self._run}): {title}. This is a disaster-recovery drill, not an "
            "incident: a fault will be injected and the plan's recovery runbook run.",
        )

    def recorded(self, record: DrillRecord, now: float) -> list[Outgoing]:
        self._recorded += 1
        if record.outcome not in RED_OUTCOMES:
            return []
        self._failures.append(record)
        if self._first_failure_at is None:
            self._first_failure_at = now
            self._last_status_at = now
            self._reached.update(self._at_once())
        return self._send(
            sorted(self._reached),
            "drill-failed",
            f"[drillbook] drill FAILED: {drill_name(record)}",
            f"Drill FAILED ({self._run}): {figures_line(record)}",
        )

    def tick(self, now: float) -> list[Outgoing]:
        """Escalations and status updates due at `now` while the incident is open."""
        if not self.incident_open or self._first_failure_at is None:
            return []
        out: list[Outgoing] = []
        elapsed = now - self._first_failure_at
        newly = [
            i
            for i, rung in enumerate(self._settings.ladder)
            if i not in self._reached and rung.after_seconds <= elapsed
        ]
        if newly:
            self._reached.update(newly)
            out += self._send(
                newly,
                "escalation",
                f"[drillbook] drill failures for {elapsed / 60:.0f} min: {self._run}",
                f"Escalated after {elapsed / 60:.1f} min ({self._run}): "
                f"{len(self._failures)} drill(s) failed so far:\n"
                + "\n".join(f"- {figures_line(r)}" for r in self._failures),
            )
        assert self._last_status_at is not None
        if now - self._last_status_at >= self._settings.status_every_seconds:
            self._last_status_at = now
            out += self._send(
                sorted(self._reached),
                "status",
                f"[drillbook] status: {len(self._failures)} drill(s) failed, run going on",
                f"Status update ({self._run}), {elapsed / 60:.1f} min after the first failure: "
                f"{self._recorded} drill(s) done, {len(self._failures)} failed:\n"
                + "\n".join(f"- {figures_line(r)}" for r in self._failures),
            )
        return out

    def finished(self, records: Sequence[DrillRecord], now: float) -> list[Outgoing]:
        self._finished = True
        counts: dict[str, int] = {}
        for record in records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        tally = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no drills"
        red = [r for r in records if r.outcome in RED_OUTCOMES]
        headline = "FAILED" if red else "passed"
        return self._send(
            sorted(set(self._at_once()) | self._reached),
            "run-finished",
            f"[drillbook] drill run {headline}: {tally}",
            f"Drill run finished ({self._run}): {tally}.\n"
            + "\n".join(f"- {figures_line(r)}" for r in records),
        )
