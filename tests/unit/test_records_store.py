"""The history store (SQLite): appends are whole transactions kept across processes, read back
oldest first with the record intact and redacted; and the `[history]` configuration."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from drillbook.config.loader import load_config
from drillbook.core.record import (
    Breach,
    CheckRecord,
    DrillRecord,
    FindingRecord,
    RpoFigure,
    RtoFigure,
)
from drillbook.core.redaction import PLACEHOLDER, REDACTOR
from drillbook.errors import ConfigError
from drillbook.records.open import open_history
from drillbook.records.store import HistoryError, RunInfo, SqliteHistory

REPO = Path(__file__).resolve().parents[2]


def make_record(
    *,
    scenario: str = "application-failure",
    option: str = "all replicas lost",
    outcome: str = "passed",
    started_wall: float = 1_780_000_000.0,
    rto: float | None = 2.0,
    rto_objective: float = 900.0,
    rpo: float | None = 0.0,
    phases: tuple[tuple[str, float], ...] = (
        ("baseline", 2.0),
        ("inject", 0.1),
        ("detect", 0.2),
        ("recover", 1.5),
        ("recovered", 0.3),
        ("verify", 2.0),
        ("undo", 0.01),
    ),
    failure: str | None = None,
    checks: tuple[CheckRecord, ...] = (CheckRecord("health checks passing", True, "all ok"),),
    checks_not_run: tuple[tuple[str, str], ...] = (),
    findings: tuple[FindingRecord, ...] = (),
    nodeid: str | None = None,
) -> DrillRecord:
    return DrillRecord(
        nodeid=nodeid or f"drills/monthly/test_{scenario}.py::test_{option.replace(' ', '_')}",
        title=f"{scenario}: {option}.",
        scenario=scenario,
        option=option,
        tier="critical",
        cadence="monthly",
        outcome=outcome,  # type: ignore[arg-type]
        failure=failure,
        failure_kind=None if failure is None else "ObjectiveBreached",
        started_wall=started_wall,
        wall_seconds=6.0,
        rto=None if rto is None else RtoFigure(rto, 0.25, rto_objective, True),
        detection_seconds=0.2,
        rpo=None if rpo is None else RpoFigure(30, 0, rpo, 300.0, "fault"),
        load=None,
        breaches=()
        if rto is None or rto <= rto_objective
        else (Breach("rto", f"RTO breach: {rto} s > {rto_objective} s"),),
        checks=checks,
        checks_not_run=checks_not_run,
        phases=phases,
        fault="kill every replica of app (SIGKILL)",
        findings=findings,
    )


RUN = RunInfo(run_id="run-1", started_wall=1_780_000_000.0, platform="local", target="eleanor")


def test_appended_drills_come_back_oldest_first_with_their_record(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3")
    later = make_record(started_wall=RUN.started_wall + 60, rto=3.5, option="one replica")
    earlier = make_record(started_wall=RUN.started_wall + 10)
    store.append(RUN, later)
    store.append(RUN, earlier)
    drills = store.drills()
    assert [d.started_wall for d in drills] == [earlier.started_wall, later.started_wall]
    assert drills[1].rto_seconds == 3.5 and drills[1].rto_objective_seconds == 900.0
    assert drills[0].rpo_seconds == 0.0 and drills[0].rpo_objective_seconds == 300.0
    assert drills[0].run == RUN
    assert DrillRecord.from_json(drills[1].record) == later
    store.close()


def test_the_same_drill_recorded_twice_in_a_run_keeps_the_last_record(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3")
    store.append(RUN, make_record(outcome="failed"))
    store.append(RUN, make_record(outcome="xfailed"))
    assert [d.outcome for d in store.drills()] == ["xfailed"]


def test_a_secret_in_a_record_is_stored_redacted(tmp_path: Path) -> None:
    secret = "hunter2-history-secret"
    REDACTOR.add(secret)
    try:
        store = SqliteHistory(tmp_path / "h.sqlite3")
        store.append(RUN, make_record(failure=f"could not log in with {secret}"))
    finally:
        REDACTOR.clear()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw
    assert PLACEHOLDER in store.drills()[0].record["failure"]


def test_a_process_killed_after_appending_loses_nothing_it_appended(tmp_path: Path) -> None:
    """Two drills appended, then SIGKILL (no close, no clean exit): both are there."""
    path = tmp_path / "h.sqlite3"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(REPO)!r})
from drillbook.records.store import SqliteHistory, RunInfo
from tests.unit.test_records_store import make_record
store = SqliteHistory(__import__("pathlib").Path({str(path)!r}))
run = RunInfo("run-killed", 1.0, "local", "eleanor")
store.append(run, make_record(option="a"))
store.append(run, make_record(option="b", started_wall=1_780_000_100.0))
print("appended", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "appended" in result.stdout
    drills = SqliteHistory(path).drills()
    assert [d.option for d in drills] == ["a", "b"]
    assert {d.run.run_id for d in drills} == {"run-killed"}


def test_an_unopenable_store_is_one_history_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(HistoryError, match="cannot be opened"):
        SqliteHistory(blocker / "h.sqlite3")
    not_sqlite = tmp_path / "junk.sqlite3"
    not_sqlite.write_bytes(os.urandom(4096))
    with pytest.raises(HistoryError):
        SqliteHistory(not_sqlite).drills()


def test_history_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(None)
    assert config.history.path == ".drillbook/history.sqlite3" and config.history.report == "pdf"
    store = open_history(config.history, base=tmp_path)
    assert store.location == str(tmp_path / ".drillbook" / "history.sqlite3")
    store.close()
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides={"history.url": "postgresql://drills:pw0rd@db.example/dr"})
    assert "without a password" in str(error.value) and "pw0rd" not in str(error.value)
    both = {"history.url": "postgresql://db.example/dr", "history.url_env": "X"}
    with pytest.raises(ConfigError, match="url or url_env, not both"):
        load_config(None, overrides=both)
    from_env = load_config(None, overrides={"history.url_env": "DRILLBOOK_TEST_HISTORY_URL"})
    monkeypatch.delenv("DRILLBOOK_TEST_HISTORY_URL", raising=False)
    with pytest.raises(HistoryError, match=r"\$DRILLBOOK_TEST_HISTORY_URL is empty or unset"):
        open_history(from_env.history, base=tmp_path)


def test_the_tables_are_plain_sql_other_tools_can_read(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite3")
    store.append(RUN, make_record())
    with sqlite3.connect(tmp_path / "h.sqlite3") as conn:
        row = conn.execute(
            "SELECT scenario, outcome, rto_seconds, record FROM drillbook_drills"
        ).fetchone()
    assert row[:3] == ("application-failure", "passed", 2.0)
    assert json.loads(row[3])["schema_version"] == 1
    assert dataclasses.asdict(make_record())["scenario"] == "application-failure"
