"""Monthly drills run as a user runs them on the reference Compose project: pytest in a
subprocess with --drillbook-config configs/compose.toml, its run file read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.docker.engine import CONFIG, ROOT


def run_compose_drills(
    runs: Path, modules: Sequence[str], selection: str | None = None, *, timeout: float = 900.0
) -> dict[str, Any]:
    """The run file (latest.json) with "returncode" and "output" (the tail of the output)."""
    args = [sys.executable, "-m", "pytest", *modules, "--drillbook-config", str(CONFIG)]
    args += ["--drillbook-runs-dir", str(runs), "-p", "no:cacheprovider", "--drillbook-no-progress"]
    if selection:
        args += ["-k", selection]
    result = subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
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
