"""Benchmark: one scenario through `chaos run` against the same drill through pytest.

    .venv/bin/python benchmarks/bench_chaos_overhead.py              # 2 rounds of each
    .venv/bin/python benchmarks/bench_chaos_overhead.py --rounds 3 --json

Both runners drive the same drill (scenario 1, every application replica killed, the plan's
rollout restart) on one embedded stack, started by the first run and reused by every other
(`--drillbook-run-dir` / `--drillbook-reuse-stack` for pytest, the experiment's configuration
values for `chaos run`), in alternating order so that neither always runs on a warmer stack.
Per run it prints the runner's wall time (the process, start to exit), the drill's own wall time
from its record (baseline to undo), and the drill's figures side by side: RTO with its error bar,
time to detect, writes lost of acknowledged, RPO, and the load's requests per phase. The
overhead of `chaos run` is the difference of the means: process wall, and drill wall (what the
control and the per-activity phase marking add inside the drill).

Not part of the test suite: it starts the embedded stack and takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drillbook.core.record import DrillRecord

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "application-b-all-replicas-rollout-restart.json"
DRILL_MODULE = "drills/monthly/test_application_failure.py"
DRILL_SELECTION = "all_replicas"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run_pytest(stack_dir: Path, workdir: Path) -> tuple[float, DrillRecord, int]:
    runs = workdir / "runs"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            DRILL_MODULE,
            "-k",
            DRILL_SELECTION,
            "--drillbook-run-dir",
            str(stack_dir),
            "--drillbook-reuse-stack",
            "--drillbook-runs-dir",
            str(runs),
            "--drillbook-no-progress",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    wall = time.monotonic() - started
    return wall, _record(runs, result.stdout + result.stderr), result.returncode


def run_chaos(stack_dir: Path, workdir: Path) -> tuple[float, DrillRecord, int]:
    runs = workdir / "runs"
    workdir.mkdir(parents=True, exist_ok=True)  # `chaos run` runs in it
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaostoolkit",
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
            str(workdir / "journal.json"),
            "--var",
            f"drillbook_run_dir={stack_dir}",
            "--var",
            "drillbook_reuse_stack=true",
            "--var",
            f"drillbook_runs_dir={runs}",
            str(EXPERIMENT),
        ],
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    wall = time.monotonic() - started
    return wall, _record(runs, result.stdout + result.stderr), result.returncode


def _record(runs: Path, output: str) -> DrillRecord:
    latest = runs / "latest.json"
    if not latest.is_file():
        raise SystemExit(f"bench: the run wrote no drill record in {runs}:\n{output[-4000:]}")
    (drill,) = json.loads(latest.read_text())["drills"]
    return DrillRecord.from_json(drill)


def row(runner: str, wall: float, record: DrillRecord, code: int) -> dict[str, Any]:
    rto, rpo, load = record.rto, record.rpo, record.load
    return {
        "runner": runner,
        "exit": code,
        "outcome": record.outcome,
        "process_wall": round(wall, 2),
        "drill_wall": round(record.wall_seconds, 2),
        "rto": None if rto is None else round(rto.seconds, 3),
        "error_bar": None if rto is None else round(rto.error_bar_seconds, 3),
        "detect": None if record.detection_seconds is None else round(record.detection_seconds, 3),
        "lost": None if rpo is None else f"{rpo.lost}/{rpo.acknowledged}",
        "rpo": None if rpo is None else round(rpo.seconds, 3),
        "load": None
        if load is None
        else " ".join(f"{p.name}:{p.requests}/{p.errors}" for p in load.phases),
    }


_COLUMNS = (
    "runner",
    "exit",
    "outcome",
    "process_wall",
    "drill_wall",
    "rto",
    "error_bar",
    "detect",
    "lost",
    "rpo",
    "load",
)


def print_table(table: Sequence[dict[str, Any]]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in table)) for c in _COLUMNS}
    print("  ".join(f"{c:{widths[c]}}" for c in _COLUMNS))
    for r in table:
        print("  ".join(f"{r[c]!s:{widths[c]}}" for c in _COLUMNS))
    print("\nload: requests/errors per phase (baseline, fault, recovered)")
    for runner in ("pytest", "chaos run"):
        mine = [r for r in table if r["runner"] == runner]
        process = statistics.mean(r["process_wall"] for r in mine)
        drill = statistics.mean(r["drill_wall"] for r in mine)
        rto = statistics.mean(r["rto"] or 0.0 for r in mine)
        print(
            f"{runner:9}: process wall mean {process:6.2f} s, drill wall mean {drill:6.2f} s, "
            f"RTO mean {rto:.3f} s"
        )
    pytest_rows = [r for r in table if r["runner"] == "pytest"]
    chaos_rows = [r for r in table if r["runner"] == "chaos run"]
    for key in ("process_wall", "drill_wall"):
        over = statistics.mean(r[key] for r in chaos_rows) - statistics.mean(
            r[key] for r in pytest_rows
        )
        print(f"overhead of chaos run ({key.replace('_', ' ')}): {over:+.2f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each runner (default 2)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="drillbook-bench-chaos-"))
    # A run directory of its own right under the temporary directory: the stack's database
    # user must be able to traverse its parents.
    stack_dir = Path(tempfile.mkdtemp(prefix="drillbook-bench-chaos-stack-"))
    table = []
    try:
        # A first, untimed run starts the stack, so that every timed run attaches to it.
        run_pytest(stack_dir, root / "warm-up")
        for round_ in range(args.rounds):
            order = [("pytest", run_pytest), ("chaos run", run_chaos)]
            if round_ % 2:
                order.reverse()
            for name, runner in order:
                wall, record, code = runner(stack_dir, root / f"{name.replace(' ', '-')}-{round_}")
                table.append(row(name, wall, record, code))
    finally:
        subprocess.run(
            [sys.executable, "-m", "drillbook.cli", "stack", "down", "--run-dir", str(stack_dir)],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(stack_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print_table(table)
    return 0 if all(r["exit"] == 0 for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())
