"""Benchmark: the main job's monthly drills, where their time goes, and drillbook's own overhead.

    .venv/bin/python benchmarks/bench_monthly.py                 # run the drills, then report
    .venv/bin/python benchmarks/bench_monthly.py --from reports/runs/latest.json   # report only
    .venv/bin/python benchmarks/bench_monthly.py -- -k application  # extra pytest arguments

Runs `drillbook run monthly` (the stack's start, every monthly drill, the HTML report) as a
subprocess, times it as a whole, then reads the run's drill records (reports/runs/) and prints
one row per drill:

- wall: the drill from its baseline to its undo; rto: the target's recovery time (upper bound);
- what the drill must wait, by kind: baseline (the steady state it requires before the fault:
  the load's 2 s), recovery (fault to recovered: the target's recovery and the plan's runbook),
  window (the verification window after recovery, what the runbook did not use), observe (an
  absorb drill's observation window, a backup taken before the fault), undo (the target put
  back as it was);
- overhead: wall minus all of those: what drillbook itself adds (starting and stopping its
  companions, injecting, running the checks, judging).

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


def waits(record: DrillRecord, *, baseline_required: float) -> dict[str, float]:
    """What the drill cannot shorten without weakening what it measures, by kind."""
    # From the fault to "recovered": the target's own recovery and the plan's runbook (a
    # rolling restart may go on after the service is healthy again: the runbook still runs).
    recovery = sum(record.phase_seconds(p) for p in ("detect", "recover", "recovered"))
    window = 0.0
    if record.phase_seconds("verify") and record.rto is not None and record.rto.outage_observed:
        # The verification window runs from the recovery; what the runbook did not already use.
        window = max(0.0, record.rto.seconds + record.verification_window_seconds - recovery)
    return {
        "baseline": baseline_required,
        "recovery": recovery,
        "window": window,
        # An absorb drill's observation window; a scenario's own preparation (a backup taken
        # before the fault, with writes after it).
        "observe": record.phase_seconds("observe") + record.phase_seconds("backup"),
        # Putting the target back as it was (a restarted Weaviate with its original data).
        "undo": record.phase_seconds("undo"),
    }


def rows(records: Sequence[DrillRecord], *, baseline_required: float) -> list[dict[str, Any]]:
    table = []
    for r in records:
        must = waits(r, baseline_required=baseline_required)
        table.append(
            {
                "drill": r.nodeid.split("::")[-1],
                "outcome": r.outcome,
                "wall": r.wall_seconds,
                "rto": r.rto.seconds if r.rto is not None else 0.0,
                **must,
                "overhead": r.wall_seconds - sum(must.values()),
                "phases": dict(r.phases),
            }
        )
    return table


_COLUMNS = ("wall", "rto", "baseline", "recovery", "window", "observe", "undo", "overhead")


def print_table(table: Sequence[dict[str, Any]], *, job_wall: float | None) -> None:
    print(f"{'drill':58} {'outcome':8} " + " ".join(f"{c:>8}" for c in _COLUMNS))
    for row in table:
        cells = " ".join(f"{row[c]:8.2f}" for c in _COLUMNS)
        print(f"{row['drill'][:58]:58} {row['outcome']:8} {cells}")
    sums = " ".join(f"{sum(r[c] for r in table):8.2f}" for c in _COLUMNS)
    print(f"{'drills (sum)':58} {'':8} {sums}")
    if table:
        worst = max(table, key=lambda r: r["overhead"])
        mean = sum(r["overhead"] for r in table) / len(table)
        most = f"max {worst['overhead']:.2f} s ({worst['drill']})"
        print(f"overhead per drill: mean {mean:.2f} s, {most}")
    walls = sum(r["wall"] for r in table)
    if job_wall is not None:
        print(f"{'whole main job (stack start + drills + report)':58} {'':8} {job_wall:8.2f}")
        print(f"{'  of which outside the drills':58} {'':8} {job_wall - walls:8.2f}")
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
