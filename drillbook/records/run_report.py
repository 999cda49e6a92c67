"""Writing one run's drill report: the Markdown, each scenario's trend chart beside it, the PDF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drillbook.core.record import DrillRecord
from drillbook.records.drill_report import drill_report_markdown
from drillbook.records.pdf import print_pdf
from drillbook.records.store import RunInfo, StoredDrill
from drillbook.records.trend import render_trend_svg, trend_points

__all__ = ["ReportFiles", "write_drill_report"]


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    pdf: Path | None
    trends: tuple[Path, ...]


def write_drill_report(
    directory: Path,
    records: Sequence[DrillRecord],
    run: RunInfo,
    history: Sequence[StoredDrill],
    *,
    finished_wall: float,
    pdf: bool,
) -> ReportFiles:
    """`<directory>/drill-report.md` (and `.pdf` with `pdf`), trends from `history`."""
    directory.mkdir(parents=True, exist_ok=True)
    trends: dict[str, str] = {}
    files = []
    for scenario in dict.fromkeys(r.scenario for r in records):
        points = trend_points(history, scenario)
        if not points:
            continue
        name = f"trend-{scenario}.svg"
        (directory / name).write_text(render_trend_svg(scenario, points), encoding="utf-8")
        trends[scenario] = name
        files.append(directory / name)
    markdown = directory / "drill-report.md"
    markdown.write_text(
        drill_report_markdown(records, run, finished_wall=finished_wall, trend_images=trends),
        encoding="utf-8",
    )
    printed = print_pdf(markdown, directory / "drill-report.pdf") if pdf else None
    return ReportFiles(markdown, printed, tuple(files))
