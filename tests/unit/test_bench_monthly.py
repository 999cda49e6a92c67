"""The monthly benchmark reads a run's drill records and splits each drill's wall time into
what it must wait and drillbook's overhead (tests/integration runs the suite it times)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from drillbook.reporting.run_file import run_document, write_run_file
from tests.unit.test_drill_record import run_drill

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_monthly.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_monthly", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_splits_wall_time_into_waits_and_overhead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = run_drill(tmp_path / "drill")
    document = run_document([record], started_wall=0.0, finished_wall=30.0, platform="local")
    run_file = write_run_file(tmp_path / "runs", document)

    assert load_benchmark().main(["--from", str(run_file), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (row,) = printed["drills"]
    waited = sum(row[k] for k in ("baseline", "recovery", "window", "observe", "undo"))
    assert row["overhead"] == pytest.approx(record.wall_seconds - waited)
    # The scripted drill: recovered 4 s after the fault, a 0.5 s window, nothing else to wait.
    assert row["rto"] == pytest.approx(4.0)
    assert row["recovery"] == pytest.approx(
        sum(record.phase_seconds(p) for p in ("detect", "recover", "recovered"))
    )

    load_benchmark().main(["--from", str(run_file)])
    table = capsys.readouterr().out
    assert "test_x" in table and "overhead per drill: mean" in table
