"""drillbook as a Chaos Toolkit extension, run as a user runs it: `chaos run experiments/...`
in a subprocess, on one embedded stack reused by every run of this module (its run directory
handed to the extension as configuration values, `--var drillbook_run_dir=...`).

- Three experiments end to end (application, database restore with PITR, secrets on Vault):
  each completes, and its journal holds the RTO (with its error bar) and the RPO, the same
  figures as the drill record it wrote.
- An experiment whose RTO objective is set below what recovery takes ends "deviated" (exit
  code 1), and its journal names the tolerance that failed and by how much.
- A `chaos run` killed with SIGKILL in the middle of its method leaves its fault pending in the
  undo journal; the next `chaos run` replays it before injecting anything, and the stack is
  whole afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

EXPERIMENTS = REPO / "experiments"
JOURNAL = "undo-journal.jsonl"
RUN_SECONDS = 300.0


@pytest.fixture(scope="module")
def stack_dir() -> Iterator[Path]:
    """The run directory of the stack every `chaos run` here attaches to (started by the
    first); stopped at the end."""
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-chaos-stack-"))
    try:
        yield run_dir
    finally:
        subprocess.run(
            [sys.executable, "-m", "drillbook.cli", "stack", "down", "--run-dir", str(run_dir)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(run_dir, ignore_errors=True)


def _chaos_args(experiment: Path, workdir: Path, stack_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chaostoolkit",
        "--no-version-check",
        "--log-file",
        str(workdir / "chaos.log"),
        "run",
        "--journal-path",
        str(workdir / "journal.json"),
        "--var",
        f"drillbook_run_dir={stack_dir}",
        "--var",
        "drillbook_reuse_stack=true",
        "--var",
        f"drillbook_runs_dir={workdir / 'runs'}",
        str(experiment),
    ]


def _chaos_run(experiment: Path, workdir: Path, stack_dir: Path) -> dict[str, Any]:
    """`chaos run experiment`: the journal, with the exit code and the output's tail."""
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        _chaos_args(experiment, workdir, stack_dir),
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    output = (result.stdout + result.stderr)[-8000:]
    journal_path = workdir / "journal.json"
    assert journal_path.is_file(), f"no journal written:\n{output}"
    journal: dict[str, Any] = json.loads(journal_path.read_text())
    journal["_returncode"] = result.returncode
    journal["_output"] = output
    return journal


def _drillbook(journal: dict[str, Any]) -> dict[str, Any]:
    (entry,) = [e for e in journal["experiment"].get("extensions", []) if e["name"] == "drillbook"]
    return dict(entry)


def _probe_output(journal: dict[str, Any], when: str, name: str) -> dict[str, Any]:
    (run,) = [p for p in journal["steady_states"][when]["probes"] if p["activity"]["name"] == name]
    return dict(run)


def _pending(stack_dir: Path) -> set[str]:
    path = stack_dir / JOURNAL
    if not path.exists():
        return set()
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pushed = {e["id"] for e in entries if e["state"] == "pending"}
    return pushed - {e["id"] for e in entries if e["state"] == "done"}


def _health(stack_dir: Path) -> Any:
    proxy = json.loads((stack_dir / "stack.json").read_text())["ports"]["proxy"]
    try:
        response = httpx.get(f"http://127.0.0.1:{proxy}/health", timeout=2)
        return response.json()
    except httpx.HTTPError as exc:
        return {"error": repr(exc)}
    except ValueError:  # the proxy's own page: no replica in rotation
        return {"status": response.status_code, "body": response.text[:200]}


def _whole(stack_dir: Path) -> None:
    """Healthy through the proxy (polled, bounded), and no undo pending."""
    deadline = time.monotonic() + 60
    answer = _health(stack_dir)
    while answer.get("status") != "healthy":
        assert time.monotonic() < deadline, answer
        time.sleep(0.25)
        answer = _health(stack_dir)
    assert _pending(stack_dir) == set()


@pytest.mark.parametrize(
    "experiment",
    [
        "application-b-all-replicas-rollout-restart",
        "database-b-restore-pitr",
        "secrets-vault-a-secret-deleted-env-fallback",
    ],
)
def test_an_experiment_runs_end_to_end_and_its_journal_holds_rto_and_rpo(
    experiment: str, stack_dir: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    journal = _chaos_run(EXPERIMENTS / f"{experiment}.json", tmp_path, stack_dir)
    wall = time.monotonic() - started
    output = journal["_output"]
    assert journal["_returncode"] == 0, output
    assert journal["status"] == "completed" and journal["deviated"] is False, output
    entry = _drillbook(journal)
    figures = entry["figures"]
    print(
        f"{experiment}: chaos run {wall:.1f} s; RTO {figures['rto_seconds']:.3f} s "
        f"(-{figures['rto_error_bar_seconds']:.3f}), detected {figures['detection_seconds']:.3f} "
        f"s, {figures['writes_lost']} of {figures['writes_acknowledged']} writes lost, RPO "
        f"{figures['rpo_seconds']} s"
    )
    assert entry["outcome"] == "passed", entry["failure"]
    # The RTO: a real outage, recovered, with its error bar: the probe interval, plus the time
    # the recovery's first healthy sample waited for its answer.
    assert 0 < figures["rto_seconds"] <= figures["rto_objective_seconds"], figures
    answer = figures["rto_answer_seconds"]
    assert answer is not None and 0 <= answer < 2.0, figures  # [probing] timeout: 2 s
    assert 0 < figures["rto_error_bar_seconds"] <= 0.25 + answer + 0.05, figures
    assert figures["detection_seconds"] is not None
    assert 0 <= figures["detection_seconds"] < figures["rto_seconds"], figures
    # The RPO: writes acknowledged all through the drill, every one read back.
    assert figures["writes_acknowledged"] > 0, figures
    assert figures["writes_lost"] == 0 and figures["rpo_seconds"] == 0.0, figures
    assert figures["load"]["phases"]["fault"]["requests"] > 0, figures["load"]
    # The tolerance probes saw the same figures, and were met.
    rto = _probe_output(journal, "after", "rto-within-objective")
    assert rto["tolerance_met"] is True
    assert rto["output"]["rto_seconds"] == round(figures["rto_seconds"], 4)
    assert rto["output"]["error_bar_seconds"] == round(figures["rto_error_bar_seconds"], 4)
    rpo = _probe_output(journal, "after", "rpo-within-objective")
    assert rpo["tolerance_met"] is True
    assert rpo["output"]["writes_lost"] == 0
    # Judged after recovery; the ledger writes on until the drill ends, and the record holds
    # its last read-back: as many acknowledged writes or more.
    assert 0 < rpo["output"]["writes_acknowledged"] <= figures["writes_acknowledged"]
    # The drill record written as pytest runs write it, with the same figures.
    run_file = json.loads(Path(entry["run_file"]).read_text())
    (record,) = run_file["drills"]
    assert record["cadence"] == "chaos toolkit"
    assert record["rto"]["seconds"] == figures["rto_seconds"]
    assert record["rpo"]["lost"] == 0
    assert [u["ok"] for u in entry["undone"]] == [True] * len(entry["undone"]) != []
    _whole(stack_dir)


def test_an_objective_below_the_recovery_time_deviates_and_says_by_how_much(
    stack_dir: Path, tmp_path: Path
) -> None:
    objective = 0.2  # seconds; the restore from backup takes over a second on its own
    experiment = json.loads((EXPERIMENTS / "database-b-restore-pitr.json").read_text())
    experiment["configuration"]["drillbook_overrides"] = {
        "objectives.rto_critical": f"{objective * 1000:.0f}ms"
    }
    tight = tmp_path / "tight-objective.json"
    tight.write_text(json.dumps(experiment))
    journal = _chaos_run(tight, tmp_path / "run", stack_dir)
    output = journal["_output"]
    assert journal["_returncode"] != 0, output
    assert journal["deviated"] is True, output
    entry = _drillbook(journal)
    (deviation,) = entry["deviations"]
    assert deviation["probe"] == "rto-within-objective", deviation
    measured = deviation["output"]["rto_seconds"]
    assert deviation["output"]["objective_seconds"] == objective
    assert deviation["output"]["within_objective"] is False
    assert deviation["exceeded_by_seconds"] == pytest.approx(measured - objective, abs=1e-3)
    assert deviation["exceeded_by_seconds"] > 0
    # The same verdict in the drill record: failed, an RTO breach saying by how much.
    assert entry["outcome"] == "failed"
    (breach,) = entry["figures"]["breaches"]
    assert breach.startswith("RTO breach: measured") and " by " in breach, breach
    print(
        f"deviated: RTO {measured:.3f} s against {objective} s, over by "
        f"{deviation['exceeded_by_seconds']:.3f} s"
    )
    _whole(stack_dir)


def test_a_chaos_run_killed_mid_method_is_undone_by_the_next_run(
    stack_dir: Path, tmp_path: Path
) -> None:
    experiment = EXPERIMENTS / "application-b-all-replicas-rollout-restart.json"
    # The run to kill holds its fault for a minute (an observation instead of the runbook), so
    # that no recovery is under way when it dies: what the test sees is what was left behind.
    holding = json.loads(experiment.read_text())
    holding["method"] = [
        holding["method"][0],
        {
            "type": "probe",
            "name": "hold-the-fault",
            "provider": {
                "type": "python",
                "module": "drillbook.chaos.application.probes",
                "func": "service_absorbs_fault",
                "arguments": {"seconds": 60.0},
            },
        },
    ]
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "holding.json").write_text(json.dumps(holding))
    _whole(stack_dir)  # every earlier test left it whole: what is pending now is this run's
    process = subprocess.Popen(
        _chaos_args(killed / "holding.json", killed, stack_dir),
        cwd=killed,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the runner and its own processes (Locust), not the stack
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + RUN_SECONDS
    try:
        # In the method: the fault injected (its undo pending), the fault held.
        while not (_pending(stack_dir) and any("observe: " in line for line in lines)):
            assert process.poll() is None, "the run ended first:\n" + "".join(lines)
            assert time.monotonic() < deadline, "never reached the method:\n" + "".join(lines)
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    left = _pending(stack_dir)
    assert len(left) == 1, left
    assert _health(stack_dir).get("status") != "healthy", "the fault did not stay injected"
    killed_at = time.monotonic()

    journal = _chaos_run(experiment, tmp_path / "next", stack_dir)
    assert journal["_returncode"] == 0, journal["_output"]
    entry = _drillbook(journal)
    replayed = entry["replayed_undos"]
    assert replayed == [
        {"undo": "bring app back to its desired replicas", "ok": True, "error": None}
    ], replayed
    # The next run found a healthy steady state before it injected its own fault.
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert entry["outcome"] == "passed", entry["failure"]
    _whole(stack_dir)
    print(
        f"killed mid-method; the next chaos run undid it and passed in "
        f"{time.monotonic() - killed_at:.1f} s"
    )
