"""Benchmark: the main job's monthly drills, where their time goes, and drillbook's own overhead.

    .venv/bin/python benchmarks/bench_monthly.py                 # run the drills, then report
    .venv/bin/python benchmarks/bench_monthly.py --from reports/runs/latest.json   # report only
    .venv/bin/python benchmarks/bench_monthly.py -- -k application  # extra pytest arguments

Runs `drillbook run monthly` (the stack's start, every monthly drill, the HTML report) as a
subprocess, times it as a whole, then reads the run's drill records (reports/runs/) and prints
one row per drill:

- wall: the drill from its baseline to its undo;
- recovery: the target's own recovery time (the RTO upper bound; 0 when no outage was seen);
- must wait: what the drill cannot shorten without weakening a check: the steady-state baseline
  it requires, the target's recovery, an absorb drill's observation window and the verification
  window after recovery;
- overhead: wall - recovery - verification window (the issue's definition), and beyond must
  wait (wall - must wait): the time drillbook itself adds (starting companions, injecting,
  runbook commands that are not the target's recovery, checks, undo).

The total row adds the stack's start and the report: whole-job wall minus the drills' walls.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drillbook.core.record import DrillRecord

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "reports" / "runs"


def must_wait_seconds(record: DrillRecord, *, baseline_required: float) -> float:
    """The waits a drill cannot shorten without weakening what it measures."""
    recovery = record.rto.seconds if record.rto is not None else 0.0
    return (
        baseline_required
        + recovery
        + record.phase_seconds("observe")
        + (record.verification_window_seconds if record.phase_seconds("verify") else 0.0)
    )


def rows(records: Sequence[DrillRecord], *, baseline_required: float) -> list[dict[str, Any]]:
    table = []
    for r in records:
        recovery = r.rto.seconds if r.rto is not None else 0.0
        window = r.verification_window_seconds if r.phase_seconds("verify") else 0.0
        must = must_wait_seconds(r, baseline_required=baseline_required)
        table.append(
            {
                "drill": r.nodeid.split("::")[-1],
                "outcome": r.outcome,
                "wall": r.wall_seconds,
                "recovery": recovery,
                "must_wait": must,
                "overhead": r.wall_seconds - recovery - window,
                "beyond_must_wait": r.wall_seconds - must,
                "phases": dict(r.phases),
            }
        )
    return table


def print_table(table: Sequence[dict[str, Any]], *, job_wall: float | None) -> None:
    head = f"{'drill':58} {'outcome':8} {'wall':>7} {'recovery':>8} {'must wait':>9}"
    head += f" {'overhead':>8} {'beyond':>7}"
    print(head)
    for row in table:
        print(
            f"{row['drill'][:58]:58} {row['outcome']:8} {row['wall']:7.2f} {row['recovery']:8.2f}"
            f" {row['must_wait']:9.2f} {row['overhead']:8.2f} {row['beyond_must_wait']:7.2f}"
        )
    walls = sum(r["wall"] for r in table)
    print(
        f"{'drills (sum)':58} {'':8} {walls:7.2f} {sum(r['recovery'] for r in table):8.2f}"
        f" {sum(r['must_wait'] for r in table):9.2f} {sum(r['overhead'] for r in table):8.2f}"
        f" {sum(r['beyond_must_wait'] for r in table):7.2f}"
    )
    if job_wall is not None:
        print(f"{'whole main job (stack start + drills + report)':58} {'':8} {job_wall:7.2f}")
        print(f"{'  of which outside the drills':58} {'':8} {job_wall - walls:7.2f}")
    print("\nphase seconds per drill (sum over drills):")
    totals: dict[str, float] = {}
    for row in table:
        for name, seconds in row["phases"].items():
            totals[name] = totals.get(name, 0.0) + seconds
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {name:12} {seconds:7.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="report a run file, run nothing")
    parser.add_argument(
        "--baseline-required",
        type=float,
        default=2.0,
        help="the steady state each drill must observe before the fault, in seconds "
        "(the larger of the probes' and the load's baseline; 2 s on the embedded stack)",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args(argv)
    job_wall: float | None = None
    source = args.source
    if source is None:
        runs = REPO / "reports" / "bench-runs"
        started = time.monotonic()
        command = [
            str(Path(sys.executable).with_name("drillbook")),
            "run",
            "monthly",
            "--",
            f"--drillbook-runs-dir={runs}",
            *args.pytest_args,
        ]
        code = subprocess.run(command, cwd=REPO, check=False, env=dict(os.environ)).returncode
        job_wall = time.monotonic() - started
        print(f"\nbench: `drillbook run monthly` exited {code} in {job_wall:.1f} s\n")
        source = runs / "latest.json"
    document = json.loads(source.read_text(encoding="utf-8"))
    records = [DrillRecord.from_json(d) for d in document["drills"]]
    table = rows(records, baseline_required=args.baseline_required)
    if args.json:
        print(json.dumps({"job_wall": job_wall, "drills": table}, indent=2))
    else:
        print_table(table, job_wall=job_wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
