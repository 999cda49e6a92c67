"""`--dry-run` plans every drill from its code and the configuration and runs none: each plan
names the fault, its undo, the target, the runbook and the objectives; a drill the allow-list
would refuse turns the dry run red; nothing is started (no stack directory, no run file).

The integration test tests/integration/test_dry_run_changes_nothing.py shows the same against
a running stack: processes, secrets, files and data compared before and after.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import drillbook.scenarios
from drillbook.config.loader import _read_embedded
from drillbook.core.steps import Fault

REPO = Path(__file__).resolve().parents[2]


def _dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly",
            "--drillbook-dry-run",
            "--drillbook-runs-dir",
            str(tmp_path / "runs"),
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_fault_factory_says_what_its_undo_does() -> None:
    factories = []
    for module_info in pkgutil.walk_packages(
        drillbook.scenarios.__path__, drillbook.scenarios.__name__ + "."
    ):
        module = importlib.import_module(module_info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if inspect.signature(function).return_annotation in (Fault, "Fault"):
                factories.append(function)
    assert len(factories) >= 15, [f.__name__ for f in factories]
    unmarked = [f.__qualname__ for f in factories if not getattr(f, "undo_description", "")]
    assert unmarked == [], f"fault factories without @undone_by: {unmarked}"


def test_a_dry_run_of_the_monthly_suite_plans_every_drill_and_starts_nothing(
    tmp_path: Path,
) -> None:
    run = _dry_run(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    output = run.stdout
    plans = output.split("\n\n")[1:]
    drills = [p for p in plans if "[drills/monthly/" in p]
    print(f"dry run: {len(drills)} drills planned")
    assert len(drills) >= 15, output[-3000:]
    faulted = [p for p in drills if "  fault:      " in p]
    # Every drill but the backup restore test (which injects nothing) breaks something.
    assert len(faulted) == len(drills) - 1, output[-3000:]
    for plan in drills:
        assert "  target:     the embedded stack" in plan, plan
        assert "  objectives: RTO " in plan, plan
        assert "  verify:     " in plan or "  judge:      " in plan, plan
        assert "REFUSED" not in plan, plan
    for plan in faulted:
        undo = [line for line in plan.splitlines() if line.startswith("  undo:")]
        assert undo and "as the fault journals it" not in undo[0], plan
        assert "  runbook:    " in plan or "  observe:    no outage" in plan, plan
    assert "kill every replica of app (SIGKILL)" not in output  # planned, not built
    assert "nothing was started, opened or changed" in output
    # Nothing was started or written: no stack directory, no run record.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "runs").exists()


def test_a_drill_the_allow_list_refuses_turns_the_dry_run_red(tmp_path: Path) -> None:
    config = tmp_path / "only-postgres.toml"
    config.write_text(
        _read_embedded() + '\n[allow]\nsupervisor_groups = ["postgres"]\n', encoding="utf-8"
    )
    run = _dry_run(
        tmp_path, "--drillbook-config", str(config), "-k", "application_failure or database"
    )
    assert run.returncode == 1, run.stdout[-3000:]
    refused = [line for line in run.stdout.splitlines() if "REFUSED before injection" in line]
    assert refused, run.stdout[-3000:]
    assert all("supervisor group 'app' is not in allow.supervisor_groups" in r for r in refused)
    # The database drills touch only postgres: planned, not refused.
    assert "test_database_failure.py" in run.stdout
    plans = run.stdout.split("\n\n")
    database = [p for p in plans if "[drills/monthly/test_database_failure.py" in p]
    assert database and not any("REFUSED" in p for p in database)
