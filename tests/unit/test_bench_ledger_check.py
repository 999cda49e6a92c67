"""The ledger benchmark runs (at a small size): a benchmark that does not run measures nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ledger_check.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ledger_check", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_checks_and_verifies_and_prints_its_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = load_benchmark().main(["--size", "3000", "--workers", "1", "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert printed == figures
    assert figures["writes"] == 3000
    assert figures["lost"] == 0 and figures["chain_intact"] is True
    assert figures["total_seconds"] > 0 and figures["baseline_seconds"] > 0
    assert figures["ratio_to_baseline"] is not None
    assert figures["target_seconds_per_million"] == 5.0


def test_benchmark_prints_a_human_summary(capsys: pytest.CaptureFixture[str]) -> None:
    load_benchmark().main(["--size", "500", "--workers", "1"])

    out = capsys.readouterr().out
    assert "ledger check of 500 acknowledged writes" in out
    assert "chain verification of 500 records" in out
    assert "target <= 5.0 s" in out and "ratio" in out
