"""Drills run as a user runs them: pytest in a subprocess, on an embedded stack of its own.

The findings' tests each run one or two monthly drills against a purpose-built service (or the
stand-in) and read what the run recorded; this is that run, once for all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.integration.processes import REPO


def run_drills(
    runs: Path,
    modules: Sequence[str],
    selection: str,
    config: Path | None,
    *,
    timeout: float = 1200.0,
) -> dict[str, Any]:
    """`pytest <modules> -k <selection>` with `config` (None: the embedded default) on a fresh
    stack in a temporary run directory (removed after); the run file the run wrote in `runs`
    (latest.json), with the subprocess's "returncode", its "stdout", and "output" (the tail of
    stdout and stderr, for assertion messages)."""
    stack_dir = Path(tempfile.mkdtemp(prefix="drillbook-drill-run-stack-"))
    args = [
        sys.executable,
        "-m",
        "pytest",
        *modules,
        "-k",
        selection,
        "--drillbook-runs-dir",
        str(runs),
        "--drillbook-run-dir",
        str(stack_dir),
        "-p",
        "no:cacheprovider",
    ]
    if config is not None:
        args += ["--drillbook-config", str(config)]
    try:
        result = subprocess.run(
            args,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        shutil.rmtree(stack_dir, ignore_errors=True)
    output = result.stdout[-6000:] + result.stderr[-2000:]
    latest = runs / "latest.json"
    assert latest.is_file(), f"the run wrote no run file in {runs}:\n{output}"
    run: dict[str, Any] = json.loads(latest.read_text())
    run.update(returncode=result.returncode, stdout=result.stdout, output=output)
    return run
