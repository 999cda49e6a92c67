"""Benchmark: read back and verify an ELEANOR V8 JSON-lines ledger of 1,000,000 records.

    .venv/bin/python benchmarks/bench_jsonl_ledger.py               # 1,000,000 records
    .venv/bin/python benchmarks/bench_jsonl_ledger.py --size 20000  # quicker

The file is ELEANOR V8's ledger format (event_id, timestamp, event, trace_id, actor_id,
payload, payload_hash, prev_hash, record_hash; made with drillbook.ledger.chain.eleanor_record,
which the unit tests hold to ELEANOR's own hashing). Timed, in one process, on the same file:

* drillbook: what one ledger check asks of its JSON-lines source (drillbook.ledger.sources
  JsonlSource): the record count, the read-back of the drill's writes, and the chain verified
  (every payload_hash and record_hash recomputed, every link followed);
* the baseline, a straightforward verifier as ELEANOR's own `verify_ledger` is written: per
  line one `json.loads` and two sha256 of canonical JSON (sorted keys, compact separators),
  and the link to the previous record.

Target: drillbook at most half the baseline's time (ratio <= 0.5). Before the source read the
file once and parsed it with orjson under a paused garbage collector, it took 17.65 s where
the baseline took 14.65 s (ratio 1.2) on the project's machine, re-reading the whole file for
each of count, read-back and chain.
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
from drillbook.ledger.sources import JsonlSource

TARGET_RATIO = 0.5
PREFIX = "drill-bench-"
_CANONICAL = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": True}
_CORE = ("event_id", "timestamp", "event", "trace_id", "actor_id", "payload", "payload_hash")


def build(path: Path, size: int) -> list[str]:
    """Write `size` chained records to `path`; returns the trace ids of every tenth (the
    drill's writes among the service's other records)."""
    previous = ELEANOR_GENESIS
    ours: list[str] = []
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
            out.write(json.dumps(record) + "\n")
    return ours


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


def drillbook_check(path: Path, ours: list[str]) -> tuple[int, int, bool]:
    """What one ledger check asks of the source: (count, writes read back, chain intact)."""
    source = JsonlSource(path)
    count = source.count() or 0
    stored = source.read(PREFIX, ours)
    report = source.chain()
    return count, len(stored), bool(report is not None and report.intact)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="ledger records")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drillbook-bench-jsonl-") as directory:
        path = Path(directory) / "ledger.jsonl"
        started = time.perf_counter()
        ours = build(path, args.size)
        built = time.perf_counter() - started
        megabytes = path.stat().st_size / 1e6

        started, cpu = time.perf_counter(), time.process_time()
        records, problems = straightforward(path)
        baseline = time.perf_counter() - started
        baseline_cpu = time.process_time() - cpu

        started, cpu = time.perf_counter(), time.process_time()
        count, read_back, intact = drillbook_check(path, ours)
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
        "baseline_records": records,
        "baseline_problems": problems,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{args.size} ELEANOR ledger records ({megabytes:.0f} MB): drillbook (count, "
            f"read-back of {read_back}, chain {'intact' if intact else 'BROKEN'}) "
            f"{ours_seconds:.2f} s; straightforward verifier {baseline:.2f} s ({problems} "
            f"problems); ratio {figures['ratio_to_baseline']} (target <= {TARGET_RATIO}); CPU "
            f"time {ours_cpu:.2f} s against {baseline_cpu:.2f} s, ratio "
            f"{figures['cpu_ratio_to_baseline']}"
        )
    return figures


if __name__ == "__main__":
    main()
