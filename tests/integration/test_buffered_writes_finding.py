"""The buffered-writes-lost finding, shown with a purpose-built service: the notes service with
one defect (it acknowledges a note once it is in memory and stores it up to 1.5 s later) loses
the notes it acknowledged just before every replica was killed. The drill fails on its RPO (zero
evidence loss allowed) and the loss is reported as the service's own, with its evidence; the
notes service without the defect, and the stand-in, lose nothing and get no finding.

The drill is the plan's "all replicas lost, rollout restart": every replica SIGKILLed (nothing
of a replica's memory survives), recovered by a rolling restart. The database is not touched,
so whatever acknowledged note is missing afterwards the service itself lost.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drillbook.companions.buffered_writes import AFTER_THE_FAULT, SERVICE_KILLED
from tests.integration.drill_runs import run_drills
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

NOTES_CONFIG = REPO / "tests" / "services" / "notes.toml"
DRILL = "all_replicas"  # test_all_replicas_lost_recovered_by_restart, and no other


def _config(tmp_path: Path, *, module: str) -> Path:
    """notes.toml with the service's module swapped and no trace reads in the load; every other
    line as the file has it."""
    text = NOTES_CONFIG.read_text(encoding="utf-8")
    text = text.replace("tests.services.notes_service", module)
    # The load reads back the notes it created, through whichever replica the proxy picks: the
    # buffered service finds a note another replica still buffers only after that replica's
    # next flush, so those reads would fail (404) already in the baseline, for every drill. The
    # ledger's read-back after recovery is the measure of what the defect loses; no trace reads
    # ("" turns them off; without the key the load would read the stand-in's default path).
    text = _set(text, "load", "trace_read_path", '""')
    assert module in text
    path = tmp_path / f"{module.rsplit('.', 1)[-1]}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _set(text: str, table: str, key: str, value: str) -> str:
    """`key = value` first in [table], any other line setting `key` there removed."""
    head, header, rest = text.partition(f"\n[{table}]\n")
    assert header, f"{NOTES_CONFIG} has no [{table}] table"
    section, next_table, tail = rest.partition("\n[")
    section = re.sub(rf"(?m)^{key}\s*=.*\n", "", section)
    return head + header + f"{key} = {value}\n" + section + next_table + tail


def _run(runs: Path, config: Path | None, *, exit_codes: tuple[int, ...]) -> dict[str, Any]:
    """One drill in a pytest of its own (its own stack); its record from `runs`/latest.json."""
    run = run_drills(runs, ["drills/monthly/test_application_failure.py"], DRILL, config)
    # pytest's exit code 1 is "a test failed": the drill's verdict; anything else is not.
    assert run["returncode"] in exit_codes, run["output"]
    assert [d["option"] for d in run["drills"]] == ["all replicas lost, rollout restart"]
    return run


def test_notes_acknowledged_from_memory_and_lost_in_the_kill_are_the_services_finding(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, module="tests.services.buffered_notes")
    run = _run(tmp_path / "runs-buffered", config, exit_codes=(1,))
    (drill,) = run["drills"]
    ledger = drill["companions"]["ledger"]
    # The verdict: zero evidence loss allowed, and acknowledged notes are gone.
    # Red either way: on its data objective, or already at verification when the load saw
    # errors after recovery (seen once, on a cold machine: 10 of 60 load requests failed
    # against the restarted replicas; not understood yet, see the closing note of 2026-12-06).
    # Then the objectives are not judged, and the ledger's own final read-back is the loss.
    assert drill["outcome"] == "failed", drill
    assert drill["failure_kind"] in ("DataLossDetected", "VerificationFailed"), drill
    assert ledger["lost"] > 0, ledger
    judged_lost = int(ledger["lost"])
    if drill["failure_kind"] == "DataLossDetected":
        (breach,) = [b["message"] for b in drill["breaches"]]
        judged = re.match(r"RPO breach: (\d+) acknowledged evidence record\(s\) lost", breach)
        assert judged is not None, breach
        judged_lost = int(judged[1])

    # Beside it, the cause: the service's own, once.
    (finding,) = drill["findings"]
    assert (finding["kind"], finding["component"]) == ("buffered-writes-lost", "app"), finding
    evidence = finding["evidence"]
    lost = evidence["lost"]
    assert 0 < lost <= judged_lost

    # The figures separate the causes and account for every write the ledger lost: those the
    # kill lost, and any acknowledged after the fault and still in a buffer at the last read-back.
    by_cause = drill["companions"]["buffered_writes"]["lost_by_cause"]
    assert set(by_cause) <= {SERVICE_KILLED, AFTER_THE_FAULT}, by_cause
    assert by_cause[SERVICE_KILLED] == lost
    assert sum(by_cause.values()) == ledger["lost"], (by_cause, ledger)
    # The ledger's own count of losses acknowledged before the fault time; the finding adds
    # those acknowledged during the injection (by a replica not yet killed), if any: at most
    # the writes the ledger sends in that time, and the one under way.
    kill = evidence["kill"]
    before_fault = ledger["lost"] - ledger["lost_after_reference"]
    during = int(kill["injection_seconds"] * ledger["rate_per_second"]) + 1
    assert before_fault <= lost <= before_fault + during, (lost, ledger)

    # Which writes and when: the ledger's oldest lost writes, acknowledged before the kill
    # (during the injection at the latest) and after the drill began: the buffer is never
    # stored while the replica runs, so everything it acknowledged is lost.
    shown = evidence["first_lost"]
    assert len(shown) == min(lost, 20)
    ledger_first = ledger["first_lost"]
    assert [w["trace_id"] for w in shown[: len(ledger_first)]] == [
        w["trace_id"] for w in ledger_first[: len(shown)]
    ]
    seconds = [w["acknowledged_seconds_before_kill"] for w in shown]
    assert all(-kill["injection_seconds"] <= s <= kill["seconds_into_drill"] for s in seconds)
    span = evidence["acknowledged_seconds_before_kill"]
    assert span["oldest"] == max(seconds) and span["oldest"] <= kill["seconds_into_drill"]
    assert ledger["rpo_seconds"] == pytest.approx(max(0.0, span["oldest"]), abs=0.002)
    # The same instants on the wall clock, from the ledger's acknowledgements.
    killed_at = datetime.fromisoformat(kill["wall"]).timestamp()
    for write, ledger_write in zip(shown, ledger_first, strict=False):
        assert killed_at - ledger_write["ack_wall"] == pytest.approx(
            write["acknowledged_seconds_before_kill"], abs=0.01
        )
    # Every replica was killed: the two the stack runs.
    assert kill["fault"] == "kill-app" and len(kill["replicas"]) == 2, kill
    assert len(kill["pids"]) == 2

    assert "Finding (buffered-writes-lost) at app:" in run["stdout"]
    print(
        f"buffered notes: ledger acknowledged {ledger['acknowledged']}, "
        f"lost {ledger['lost']} "
        f"(judged: {judged_lost}); lost by cause {by_cause}; acknowledged "
        f"{span['newest']} s to {span['oldest']} s before the kill; kill {kill}"
    )


def test_the_same_service_without_the_defect_loses_nothing_and_gives_no_finding(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, module="tests.services.notes_service")
    run = _run(tmp_path / "runs-notes", config, exit_codes=(0,))
    (drill,) = run["drills"]
    assert drill["outcome"] == "passed"
    assert drill["findings"] == [], drill["findings"]
    ledger = drill["companions"]["ledger"]
    assert ledger["lost"] == 0 and ledger["acknowledged"] > 0, ledger
    assert drill["companions"]["buffered_writes"] == {}
    assert "Finding (" not in run["stdout"]


def test_the_stand_in_gives_no_finding(tmp_path: Path) -> None:
    run = _run(tmp_path / "runs-stand-in", None, exit_codes=(0,))
    (drill,) = run["drills"]
    assert drill["outcome"] == "passed"
    assert drill["findings"] == [], drill["findings"]
    ledger = drill["companions"]["ledger"]
    assert ledger["lost"] == 0 and ledger["acknowledged"] > 0, ledger
    assert drill["companions"]["buffered_writes"] == {}
