"""The monthly drills against a service drillbook did not write, through `[stack.app]` alone.

`tests/services/notes_service.py` (FastAPI: notes in PostgreSQL, cached in Redis through
Sentinel, journaled to a JSON-lines file) runs in place of the stand-in, configured by
`tests/services/notes.toml`, exactly as a user would run it:

    pytest drills/monthly --drillbook-config tests/services/notes.toml

Expected: every application, database and cache drill passes (the daily-dump restore reproduces
the plan's finding, as on the stand-in: xfailed), the ledger reads its records back from both
places the service keeps them (its journal and its table) and loses none, the restore test
counts the service's own table, no drill reports a finding (the service has none of the
defects drillbook looks for), and the drills of what the service does not use (Weaviate, the
secrets providers) are skipped as not applicable, never counted as passed.

Where drillbook itself keeps an expectation from holding, that expectation (only it) is marked
xfail(strict=True) with the gap as its reason: it turns red the day the gap is closed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.config.model import LedgerSettings, Objectives
from drillbook.core.record import DrillRecord
from drillbook.ledger.sources import JsonlSource
from drillbook.ledger.writer import LedgerWriter
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

CONFIG = "tests/services/notes.toml"
JOURNAL_NAME = "notes.jsonl"
"""The service journals its notes in the stack's run directory, where [ledger] jsonl_path reads
them (notes.toml: "{run_dir}/notes.jsonl")."""
RUN_TIMEOUT_SECONDS = 2400.0

TABLE = "notes"
"""The service's table (notes.toml: [ledger] table), which the ledger and the restore test read."""

# --------------------------------------------------------------------------- expectations

APPLICABLE: dict[tuple[str, str], str] = {
    ("application-failure", "one replica lost, service keeps serving"): "passed",
    ("application-failure", "all replicas lost, rollout restart"): "passed",
    ("application-failure", "capacity lost (scaled to zero), kubectl scale"): "passed",
    ("database-backup", "restore test of the newest backup"): "passed",
    ("cache-failure", "Option A: pod restart"): "passed",
    ("cache-failure", "Option B: Sentinel failover to the standby"): "passed",
    ("database-failure", "A: database pod killed, pod restart"): "passed",
    ("database-failure", "B: data file damaged, restore from backup with PITR"): "passed",
    # The plan's finding, as on the stand-in: the daily dump loses what was written after it.
    ("database-failure", "B: data file damaged, restore from the daily dump only"): "xfailed",
}
KNOWN_GAPS: dict[tuple[str, str], str] = {}
"""Expectations drillbook itself keeps from holding, with the gap as reason (none left)."""

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    # (module, function): the drill's option
    ("test_vector_db_failure", "test_weaviate_killed_recovered_by_restart"): (
        "A: Weaviate killed, pod restart"
    ),
    ("test_vector_db_failure", "test_weaviate_data_lost_restored_from_backup"): (
        "B: data lost, restore from the latest backup"
    ),
    ("test_secrets_failure", "test_secret_deleted_recovered_by_restoring_it"): (
        "Option B: restore the secret, restart the service"
    ),
    ("test_secrets_failure", "test_access_revoked_recovered_by_reissuing_it"): (
        "Option B: re-issue access, restart the service"
    ),
    ("test_secrets_failure", "test_provider_down_recovered_by_restarting_it"): (
        "Option B: restart the provider, then the service"
    ),
    ("test_secrets_failure", "test_leaked_secret_rotated_lets_no_one_in"): (
        "Option B: rotate the leaked secret, restart the service"
    ),
    ("test_secrets_failure", "test_secret_deleted_recovered_by_env_fallback"): (
        "Option A: fall back to environment variables"
    ),
    ("test_secrets_failure", "test_provider_down_recovered_by_env_fallback"): (
        "Option A: fall back to environment variables"
    ),
}
NOT_APPLICABLE_SCENARIOS = ("vector-database-failure", "secrets-management-failure")


# ------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Case:
    """One test case of the drills run, as JUnit XML reports it."""

    module: str
    name: str
    outcome: str
    """passed, failed, error, skipped, xfailed"""
    message: str


@dataclass(frozen=True)
class MonthlyRun:
    process: subprocess.CompletedProcess[str]
    wall_seconds: float
    document: dict[str, Any]
    records: dict[tuple[str, str], DrillRecord]
    cases: list[Case]
    journal: Path

    def output(self, tail: int = 6000) -> str:
        return (self.process.stdout[-tail:] or "") + (self.process.stderr[-2000:] or "")

    def cases_of(self, module: str, function: str) -> list[Case]:
        return [c for c in self.cases if c.module == module and c.name.split("[")[0] == function]

    def case_of_record(self, record: DrillRecord) -> Case | None:
        path, _, name = record.nodeid.partition("::")
        module = Path(path).stem
        return next((c for c in self.cases if c.module == module and c.name == name), None)


def _junit_cases(path: Path) -> list[Case]:
    cases = []
    for testcase in ET.parse(path).getroot().iter("testcase"):
        module = testcase.get("classname", "").rsplit(".", 1)[-1]
        outcome, message = "passed", ""
        for child in testcase:
            if child.tag in ("failure", "error"):
                outcome, message = child.tag, child.get("message", "")
            elif child.tag == "skipped":
                kind = child.get("type", "")
                outcome = "xfailed" if kind == "pytest.xfail" else "skipped"
                message = child.get("message", "")
        cases.append(Case(module, testcase.get("name", ""), outcome, message))
    return cases


@pytest.fixture(scope="module")
def monthly_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonthlyRun]:
    runs_dir = tmp_path_factory.mktemp("own-service-runs")
    junit = runs_dir / "junit.xml"
    # A run directory of our own (kept after the run, so the journal can be read), under /tmp:
    # the postgres user must traverse its parents.
    stack_dir = Path(tempfile.mkdtemp(prefix="drillbook-notes-stack-"))
    try:
        yield _run_monthly(runs_dir, junit, stack_dir)
    finally:
        shutil.rmtree(stack_dir, ignore_errors=True)


def _run_monthly(runs_dir: Path, junit: Path, stack_dir: Path) -> MonthlyRun:
    started = time.monotonic()
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly",
            "--drillbook-config",
            CONFIG,
            "--drillbook-runs-dir",
            str(runs_dir),
            "--drillbook-run-dir",
            str(stack_dir),
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "-rA",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    wall = time.monotonic() - started
    print(f"monthly drills against the notes service: {wall:.1f} s, exit {process.returncode}")
    latest = runs_dir / "latest.json"
    assert latest.is_file(), f"no run JSON in {runs_dir}:\n{process.stdout[-6000:]}"
    assert junit.is_file(), f"no JUnit XML:\n{process.stdout[-6000:]}"
    document = json.loads(latest.read_text())
    records = {(r.scenario, r.option): r for r in map(DrillRecord.from_json, document["drills"])}
    return MonthlyRun(
        process, wall, document, records, _junit_cases(junit), stack_dir / JOURNAL_NAME
    )


# ------------------------------------------------------------------------------ the tests


def test_the_run_exits_0(monthly_run: MonthlyRun) -> None:
    assert monthly_run.process.returncode == 0, monthly_run.output()


def test_nothing_is_red_but_drillbook_s_known_gaps(monthly_run: MonthlyRun) -> None:
    """Whatever exit status the gaps cause, no other drill failed or errored."""
    assert monthly_run.process.returncode in (0, 1), monthly_run.output()
    known_red = {
        (module, function)
        for module, function in NOT_APPLICABLE
        if module == "test_vector_db_failure"
    }
    for key in KNOWN_GAPS:
        record = monthly_run.records.get(key)
        if record is not None:
            path, _, name = record.nodeid.partition("::")
            known_red.add((Path(path).stem, name))
    red = [c for c in monthly_run.cases if c.outcome in ("failed", "error")]
    unexpected = [c for c in red if (c.module, c.name.split("[")[0]) not in known_red]
    assert not unexpected, "\n".join(f"{c.module}::{c.name}: {c.message}" for c in unexpected)


def _applicable_params() -> list[Any]:
    return [
        pytest.param(
            key,
            id=f"{key[0]}: {key[1]}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[key])]
            if key in KNOWN_GAPS
            else [],
        )
        for key in APPLICABLE
    ]


@pytest.mark.parametrize("key", _applicable_params())
def test_applicable_drill_passes_and_loses_no_note(
    monthly_run: MonthlyRun, key: tuple[str, str]
) -> None:
    record = monthly_run.records.get(key)
    assert record is not None, f"no record of {key}; drills run: {sorted(monthly_run.records)}"
    expected = APPLICABLE[key]
    assert record.outcome == expected, (
        f"{record.outcome} ({record.failure_kind}: {record.failure}); verdict {record.verdict}"
    )
    case = monthly_run.case_of_record(record)
    assert case is not None and case.outcome == expected, case
    ledger = record.companions.get("ledger")
    assert isinstance(ledger, dict), f"no ledger figures: {sorted(record.companions)}"
    # Read back from both places the service keeps its notes: the JSON-lines journal (records
    # read from the file itself) and its table.
    journal, table = f"file {monthly_run.journal}", f"table {TABLE}"
    assert ledger["source"] == f"{journal}; {table}", ledger["source"]
    by_source = ledger["by_source"]
    assert sorted(by_source) == sorted([journal, table]), by_source
    assert ledger["acknowledged"] > 0, ledger
    assert record.rpo is not None and record.rpo.acknowledged == ledger["acknowledged"]
    if expected == "passed":
        assert ledger["lost"] == 0 and record.rpo.lost == 0, ledger
        assert ledger["duplicated"] == 0 and ledger["altered"] == 0, ledger
        for figures in by_source.values():
            assert figures["lost"] == figures["duplicated"] == figures["altered"] == 0, by_source
            assert figures["found"] == ledger["acknowledged"], by_source
    else:  # the daily dump's finding: what was acknowledged after the dump is lost
        assert ledger["lost"] > 0, ledger
        # Lost from the database the dump restored, still in the journal it did not touch;
        # and the verdict says which source lost them.
        assert by_source[table]["lost"] == ledger["lost"], by_source
        assert by_source[journal]["lost"] == 0, by_source
        assert f"lost from {table}" in (record.failure or ""), record.failure


def test_no_drill_reports_a_finding(monthly_run: MonthlyRun) -> None:
    """The notes service has none of the defects drillbook looks for (shutdown grace and the
    others of drillbook.core.findings.KINDS): a finding here is a false alarm."""
    assert monthly_run.records, "no drill records"
    found = {key: record.findings for key, record in monthly_run.records.items()}
    assert all(findings == () for findings in found.values()), {
        key: findings for key, findings in found.items() if findings
    }


@pytest.mark.parametrize(
    "drill",
    list(NOT_APPLICABLE),
    ids=[f"{module}::{function}" for module, function in NOT_APPLICABLE],
)
def test_drills_of_unused_dependencies_are_never_passed(
    monthly_run: MonthlyRun, drill: tuple[str, str]
) -> None:
    cases = monthly_run.cases_of(*drill)
    assert cases, f"{drill} was not collected"
    assert all(c.outcome not in ("passed", "xpassed") for c in cases), cases
    # The run's own count of passed drills holds applicable drills only.
    passed = [r for r in monthly_run.records.values() if r.outcome in ("passed", "xpassed")]
    assert all((r.scenario, r.option) in APPLICABLE for r in passed), [r.nodeid for r in passed]
    assert monthly_run.document["outcomes"].get("passed", 0) == len(
        [r for r in passed if r.outcome == "passed"]
    )


@pytest.mark.parametrize(
    "drill",
    list(NOT_APPLICABLE),
    ids=[f"{module}::{function}" for module, function in NOT_APPLICABLE],
)
def test_drills_of_unused_dependencies_are_skipped_as_not_applicable(
    monthly_run: MonthlyRun, drill: tuple[str, str]
) -> None:
    cases = monthly_run.cases_of(*drill)
    assert cases, f"{drill} was not collected"
    for case in cases:
        assert case.outcome == "skipped", case
        assert "not applicable: the service in [stack.app] does not use" in case.message, case
    # A skipped drill leaves no record behind, so it cannot be counted as anything.
    scenarios = {r.scenario for r in monthly_run.records.values()}
    assert not scenarios & set(NOT_APPLICABLE_SCENARIOS), scenarios


def test_the_journal_holds_the_ledger_s_notes(monthly_run: MonthlyRun) -> None:
    """The file the ledger read is the one the service wrote: one JSON object per line, each
    with its trace id and its hash, the ledger's writes among them."""
    lines = monthly_run.journal.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert records, f"{monthly_run.journal} is empty"
    assert all(isinstance(r.get("trace_id"), str) and r.get("record_hash") for r in records)
    ledger_writes = [r for r in records if r["trace_id"].startswith("drill-")]
    acknowledged = sum(
        int(r.companions["ledger"]["acknowledged"])
        for r in monthly_run.records.values()
        if isinstance(r.companions.get("ledger"), dict)
    )
    assert len(ledger_writes) >= acknowledged > 0
    assert len({r["trace_id"] for r in records}) == len(records), "a note journaled twice"


def test_the_restore_test_counts_the_service_s_notes(monthly_run: MonthlyRun) -> None:
    """The newest backup restored into a scratch database holds the service's own table (not
    the reference schema's evidence_records), with at least the rows it had when dumped."""
    record = monthly_run.records[("database-backup", "restore test of the newest backup")]
    checks = record.companions["backup"]["restore_checks"]
    assert checks, record.companions["backup"]
    for check in checks:
        assert check["table"] == TABLE and check["table_found"], check
        assert (check["evidence_rows"] or 0) > 0, check
        assert check["expected_min_rows"] is not None, check
        assert check["evidence_rows"] >= check["expected_min_rows"], check
        # The notes table has a record_hash column but no hash chain: nothing to verify.
        assert check["chain"] is None and check["passed"], check


def test_a_write_path_answering_201_created_is_acknowledged(tmp_path: Path) -> None:
    """The ledger against a write endpoint that answers as REST has it: 201 Created."""
    journal = tmp_path / "notes.jsonl"

    def created(request: httpx.Request) -> httpx.Response:
        note = json.loads(request.content)
        with journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"trace_id": note["trace_id"]}) + "\n")
        return httpx.Response(201, json={"trace_id": note["trace_id"]})

    writer = LedgerWriter(
        LedgerSettings(
            write_path="/notes", rate_per_second=50.0, source="jsonl", jsonl_path=str(journal)
        ),
        objectives=Objectives(),
        base_url="http://notes.invalid",
        source=JsonlSource(journal),
        ack_dir=tmp_path / "acks",
        client=httpx.Client(transport=httpx.MockTransport(created)),
    )
    writer.start()
    time.sleep(0.3)
    writer.stop()
    figures = writer.figures()
    assert figures["attempted"] > 0
    assert figures["acknowledged"] == figures["attempted"], figures
