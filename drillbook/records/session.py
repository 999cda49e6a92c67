"""One run's records over time, as the pytest plugin drives them: each drill's start notified,
its record appended to the history (and notified when red) at its end, its scenario's trend
attached to its Allure result, and at the run's end the drill report and the run's summary.

Nothing here may change a verdict: every failure (a store that cannot be opened, a PDF that
cannot be printed, a receiver that is down) is kept as a line for the run summary and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from drillbook.config.model import DrillbookConfig
from drillbook.core.record import DrillRecord
from drillbook.core.redaction import REDACTOR
from drillbook.errors import DrillError
from drillbook.records.notifier import Notifier
from drillbook.records.open import history_location, open_history
from drillbook.records.run_report import write_drill_report
from drillbook.records.store import HistoryStore, RunInfo, StoredDrill, as_stored
from drillbook.records.trend import render_trend_svg, trend_points

__all__ = ["RunRecords"]

log = logging.getLogger(__name__)


class RunRecords:
    """The history, notifications and drill report of one run."""

    def __init__(self, config: DrillbookConfig, *, base: Path, run: RunInfo) -> None:
        self._config = config
        self._run = run
        self._problems: list[str] = []
        self._appended = 0
        self._store: HistoryStore | None = None
        self._location = history_location(config.history, base=base)
        if config.history.enabled:
            try:
                self._store = open_history(config.history, base=base)
            except DrillError as exc:
                self._problem(f"no drill history this run: {exc}")
        self._notifier = (
            Notifier(config.notify, run_label=f"run {run.run_id} on {run.target}")
            if config.notify.enabled
            else None
        )

    def _problem(self, text: str) -> None:
        text = REDACTOR.redact(text)
        log.warning("drillbook: %s", text)
        self._problems.append(text)

    def _history(self) -> list[StoredDrill]:
        if self._store is None:
            return []
        try:
            return self._store.drills()
        except DrillError as exc:
            self._problem(f"drill history unreadable: {exc}")
            return []

    def drill_started(self, title: str) -> None:
        if self._notifier is not None:
            self._notifier.drill_started(title)

    def trend_svg(self, record: DrillRecord) -> str | None:
        """The scenario's trend: the history's drills and this one (not yet appended)."""
        if self._store is None:
            return None
        drills = [
            d
            for d in self._history()
            if d.run.run_id != self._run.run_id or d.nodeid != record.nodeid
        ]
        drills.append(as_stored(self._run, record))
        return render_trend_svg(record.scenario, trend_points(drills, record.scenario))

    def drill_recorded(self, record: DrillRecord) -> None:
        """The drill's final record: appended (one transaction), and notified when red."""
        if self._store is not None:
            try:
                self._store.append(self._run, record)
                self._appended += 1
            except DrillError as exc:
                self._problem(f"drill {record.nodeid} not added to the history: {exc}")
        if self._notifier is not None:
            self._notifier.drill_recorded(record)

    def finish(
        self, records: Sequence[DrillRecord], *, reports_dir: Path, finished_wall: float
    ) -> list[str]:
        """The drill report, the run's end notified; the lines for the run summary."""
        lines: list[str] = []
        if self._store is not None:
            lines.append(f"drill history: {self._appended} drill(s) added to {self._location}")
        report_format = self._config.history.report
        if records and report_format != "none":
            directory = reports_dir / self._run.run_id
            try:
                files = write_drill_report(
                    directory,
                    records,
                    self._run,
                    self._history(),
                    finished_wall=finished_wall,
                    pdf=report_format == "pdf",
                )
                lines.append(
                    f"drill report: {files.markdown}"
                    + (f" and {files.pdf}" if files.pdf is not None else "")
                )
            except (DrillError, OSError) as exc:
                self._problem(f"drill report not written in {directory}: {exc}")
        if self._notifier is not None:
            self._notifier.run_finished(records)
            failures = self._notifier.close()
            delivered = len(self._notifier.deliveries)
            lines.append(f"notifications: {delivered} delivered, {len(failures)} failed")
            lines += [f"  {failure}" for failure in failures]
        if self._store is not None:
            self._store.close()
        return lines + [f"drillbook: {problem}" for problem in self._problems]


def attach_trend(run_records: RunRecords, record: DrillRecord) -> None:
    """The scenario's trend chart as an attachment of the drill's Allure result (a no-op
    without --alluredir); called in the drill's call phase, so it lands on the drill's page."""
    import allure

    svg = run_records.trend_svg(record)
    if svg is not None:
        allure.attach(
            svg, name=f"trend: {record.scenario}", attachment_type=allure.attachment_type.SVG
        )
