"""A pytest plugin for tests/integration/test_run_output_scan.py: a writer that forgot the
redactor. Just before drillbook's end-of-run scan, it writes the longest secret the run
learned into a file beside the drill reports, as a buggy report writer would."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.core.redaction import REDACTOR

LEAK_NAME = "leaky-notes.txt"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    runs = session.config.getoption("drillbook_runs_dir")
    registered = REDACTOR.registered()
    if not runs or not registered:
        return
    reports = Path(runs).parent / "drill-reports"
    reports.mkdir(parents=True, exist_ok=True)
    secret = max(registered, key=len)
    (reports / LEAK_NAME).write_text(f"a writer that forgot the redactor: {secret}\n")
