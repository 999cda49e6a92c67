"""Drills of drills/ run as a user runs them: pytest in a subprocess with --drillbook-config,
its run file read back. Shared by the platform tests (tests/docker, tests/kind)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_drills(
    config: Path,
    runs: Path,
    selection: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
) -> dict[str, Any]:
    """`selection` (files or node ids, and pytest options such as -k) against `config`; the
    run file (latest.json) with "returncode" and "output" (the tail of the output)."""
    args = [sys.executable, "-m", "pytest", *selection, "--drillbook-config", str(config)]
    args += ["--drillbook-runs-dir", str(runs), "-p", "no:cacheprovider", "--drillbook-no-progress"]
    result = subprocess.run(
        args,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout[-6000:] + result.stderr[-2000:]
    latest = runs / "latest.json"
    assert latest.is_file(), f"the run wrote no run file in {runs}:\n{output}"
    run: dict[str, Any] = json.loads(latest.read_text())
    run.update(returncode=result.returncode, output=output)
    return run
