"""Benchmark: read back and verify an ELEANOR V8 JSON-lines ledger of 1,000,000 records.

    .venv/bin/python benchmarks/bench_jsonl_ledger.py               # 1,000,000 records
    .venv/bin/python benchmarks/bench_jsonl_ledger.py --size 20000  # quicker

The file is ELEANOR V8's ledger format (event_id, timestamp, event, trace_id, actor_id,
payload, payload_hash, prev_hash, record_hash; made with drillbook.ledger.chain.eleanor_record,
which the unit tests hold to ELEANOR's own hashing). Timed, in one process, on the same file:

* drillbook: what one ledger check asks of its JSON-lines source (drillbook.ledger.sources
  JsonlSource): the record count, the read-back of the drill's writes, and the chain verified
  (every payload_hash and record_hash recomputed, every link followed, and the head recorded
  before the fault looked up), all from one pass over the file (drillbook.ledger.jsonl_scan);
* the baseline, a straightforward verifier as ELEANOR's own `verify_ledger` is written: per
  line one `json.loads` and two sha256 of canonical JSON (sorted keys, compact separators),
  and the link to the previous record.

Both run in this one process, one after the other, on the same file (in the page cache: it
was just written); each is timed in wall-clock and CPU time, and both verdicts are printed so
that a fast wrong answer cannot pass for a fast one. Target: drillbook at most half the
baseline's time (ratio <= 0.5). Figures and their history: docs/measurements.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from drillbook.ledger.chain import ELEANOR_GENESIS, eleanor_record
from drillbook.ledger.heads import ChainHead
from drillbook.ledger.sources import JsonlSource

TARGET_RATIO = 0.5
PREFIX = "drill-bench-"
_CANONICAL = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": True}
_CORE = ("event_id", "timestamp", "event", "trace_id", "actor_id", "payload", "payload_hash")


def build(path: Path, size: int) -> tuple[list[str], ChainHead | None]:
    """Write `size` chained records to `path`; returns the trace ids of every tenth (the
    drill's writes among the service's other records) and the head of the chain halfway
    through (the head a check holds the file to, as if recorded before a fault)."""
    previous = ELEANOR_GENESIS
    ours: list[str] = []
    halfway: ChainHead | None = None
    with open(path, "w", encoding="utf-8") as out:
        for seq in range(size):
            trace_id = f"{PREFIX}{seq:08d}" if seq % 10 == 0 else f"trace-{seq:08d}"
            if seq % 10 == 0:
                ours.append(trace_id)
            record = eleanor_record(
                event_id=f"evt-{seq:08d}",
                timestamp=f"2026-12-06T08:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}Z",
                event="deliberation.completed",
                trace_id=trace_id,
                actor_id="governance-engine",
                payload={
                    "input": f"request {seq}: may the agent send this summary to the customer?",
                    "decision": "allow" if seq % 3 else "escalate",
                    "critics": {"privacy": 0.12, "fairness": 0.07, "truthfulness": 0.91},
                    "context": {"tenant": "acme", "channel": "email", "seq": seq},
                    "rationale": "no personal data beyond what the customer provided; "
                    "claims checked against the knowledge base",
                },
                prev_hash=previous,
            )
            previous = record["record_hash"]
            if seq == size // 2:
                halfway = ChainHead("eleanor_ledger", seq + 1, previous, trace_id, "line")
            out.write(json.dumps(record) + "\n")
    return ours, halfway


def straightforward(path: Path) -> tuple[int, int]:
    """ELEANOR's verify_ledger, written plainly: (records, problems)."""
    previous = ELEANOR_GENESIS
    records = problems = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record: dict[str, Any] = json.loads(line)
            records += 1
            payload = json.dumps(record["payload"], **_CANONICAL)  # type: ignore[arg-type]
            if hashlib.sha256(payload.encode()).hexdigest() != record["payload_hash"]:
                problems += 1
            core = {key: record.get(key) for key in _CORE}
            core["prev_hash"] = record.get("prev_hash")
            text = json.dumps(core, **_CANONICAL)  # type: ignore[arg-type]
            if hashlib.sha256(text.encode()).hexdigest() != record["record_hash"]:
                problems += 1
            if record.get("prev_hash") != previous:
                problems += 1
            previous = record["record_hash"]
    return records, problems


def drillbook_check(
    path: Path, ours: list[str], head: ChainHead | None
) -> tuple[int, int, bool, int]:
    """What one ledger check asks of the source: (count, writes read back, chain intact with
    the head held, problems)."""
    source = JsonlSource(path)
    stored = source.read(PREFIX, ours)
    report = source.chain(head)
    count = source.count() or 0
    intact = report is not None and report.intact
    problems = len(report.problems) if report is not None else 0
    if report is not None and report.head is not None and not report.head.holds:
        problems += 1
    return count, len(stored), intact, problems


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="ledger records")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drillbook-bench-jsonl-") as directory:
        path = Path(directory) / "ledger.jsonl"
        started = time.perf_counter()
        ours, head = build(path, args.size)
        built = time.perf_counter() - started
        megabytes = path.stat().st_size / 1e6

        started, cpu = time.perf_counter(), time.process_time()
        records, problems = straightforward(path)
        baseline = time.perf_counter() - started
        baseline_cpu = time.process_time() - cpu

        started, cpu = time.perf_counter(), time.process_time()
        count, read_back, intact, found = drillbook_check(path, ours, head)
        ours_seconds = time.perf_counter() - started
        ours_cpu = time.process_time() - cpu

    figures = {
        "records": args.size,
        "file_megabytes": round(megabytes, 1),
        "build_seconds": round(built, 2),
        "drillbook_seconds": round(ours_seconds, 3),
        "baseline_seconds": round(baseline, 3),
        "ratio_to_baseline": round(ours_seconds / baseline, 3) if baseline else None,
        "drillbook_cpu_seconds": round(ours_cpu, 3),
        "baseline_cpu_seconds": round(baseline_cpu, 3),
        "cpu_ratio_to_baseline": round(ours_cpu / baseline_cpu, 3) if baseline_cpu else None,
        "target_ratio": TARGET_RATIO,
        "count": count,
        "read_back": read_back,
        "chain_intact": intact,
        "problems": found,
        "baseline_records": records,
        "baseline_problems": problems,
        "verdicts_agree": count == records and (found == 0) == (problems == 0),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{args.size} ELEANOR ledger records ({megabytes:.0f} MB), one process:\n"
            f"  drillbook (count {count}, read-back of {read_back}, chain "
            f"{'intact' if intact else 'BROKEN'}, {found} problems)  "
            f"wall {ours_seconds:6.2f} s  CPU {ours_cpu:6.2f} s\n"
            f"  straightforward verifier ({records} records, {problems} problems)  "
            f"wall {baseline:6.2f} s  CPU {baseline_cpu:6.2f} s\n"
            f"  ratio: wall {figures['ratio_to_baseline']}, CPU "
            f"{figures['cpu_ratio_to_baseline']} (target <= {TARGET_RATIO}); verdicts "
            f"{'agree' if figures['verdicts_agree'] else 'DISAGREE'}"
        )
    return figures


if __name__ == "__main__":
    main()
