"""The JSON-lines ledger benchmark runs (at a small size), its two verifiers agree, and its check
is the real one. Its speed is not judged here (a few thousand records, on a shared machine): the
figures at 1,000,000 records are in docs/measurements.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from drillbook.ledger.sources import JsonlSource, parse_json_lines

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_jsonl_ledger.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_jsonl_ledger", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_verifies_both_ways_and_prints_its_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark()
    figures = bench.main(["--size", "2000", "--json"])
    assert json.loads(capsys.readouterr().out) == figures
    assert figures["count"] == figures["baseline_records"] == 2000
    assert figures["read_back"] == 200 and figures["chain_intact"] is True
    assert figures["problems"] == figures["baseline_problems"] == 0
    assert figures["verdicts_agree"] is True
    assert figures["ratio_to_baseline"] is not None and figures["cpu_ratio_to_baseline"]

    bench.main(["--size", "300"])
    printed = capsys.readouterr().out
    assert "drillbook (count 300, read-back of 30, chain intact, 0 problems)" in printed
    assert "straightforward verifier (300 records, 0 problems)" in printed
    assert "ratio: wall " in printed and "target <= 0.5); verdicts agree" in printed


def test_a_tampered_payload_is_found_by_both(tmp_path: Path) -> None:
    bench = load_benchmark()
    path = tmp_path / "ledger.jsonl"
    ours, head = bench.build(path, 50)
    assert head is not None and head.position == 26  # the record halfway, at its line
    lines = path.read_text().splitlines()
    record = json.loads(lines[7])
    record["payload"]["decision"] = "allow-everything"
    lines[7] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    assert bench.straightforward(path)[1] == 2  # its payload_hash and its record_hash
    report = JsonlSource(path).chain()
    assert report is not None and not report.intact
    assert {p.position for p in report.problems} == {7}
    assert report.first_bad_line == 8
    count, read_back, intact, problems = bench.drillbook_check(path, ours, head)
    assert (count, read_back, intact, problems) == (50, 5, False, 2)


def test_torn_and_foreign_lines_are_skipped_and_nan_read_as_json_does() -> None:
    data = b'{"a": 1}\n\n{"b": NaN}\n[1, 2]\n{"c": 3, "torn'
    records = parse_json_lines(data)
    assert records[0] == {"a": 1} and len(records) == 2
    assert records[1]["b"] != records[1]["b"]  # NaN, read by json where orjson refuses it


def test_the_file_is_parsed_once_while_it_does_not_change(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"trace_id": "drill-1"}\n')
    source = JsonlSource(path)
    assert source.count() == 1
    first = source._scan()
    assert source._scan() is first  # the same pass, not a new one
    with path.open("a") as out:
        out.write('{"trace_id": "drill-2"}\n')
    assert source.count() == 2
