"""The end-of-run artifact scan: a secret that reached a file the run wrote, past the
redactor, fails the run and is named by file, never by value. Every other drill run of the
suite passes the same scan (its returncode 0 says so)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.leaky_writer import LEAK_NAME
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]


def test_a_secret_written_past_the_redactor_fails_the_run(tmp_path: Path) -> None:
    stack_dir = Path(tempfile.mkdtemp(prefix="drillbook-scan-stack-"))
    runs = tmp_path / "reports" / "runs"
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "drills/monthly/test_application_failure.py",
                "-k",
                "one_replica",
                "--drillbook-runs-dir",
                str(runs),
                "--drillbook-run-dir",
                str(stack_dir),
                "-p",
                "tests.integration.leaky_writer",
                "-p",
                "no:cacheprovider",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        shutil.rmtree(stack_dir, ignore_errors=True)
    output = run.stdout[-4000:] + run.stderr[-2000:]
    # The drill itself passed; the run fails on the scan alone.
    assert "1 passed" in run.stdout, output
    assert run.returncode == 1, output
    leak = tmp_path / "reports" / "drill-reports" / LEAK_NAME
    found = [line for line in run.stdout.splitlines() if line.startswith("SECRET FOUND")]
    assert found and str(leak) in found[0], output
    assert "registered secret #" in found[0], found
    secret = leak.read_text().rsplit(": ", 1)[1].strip()
    assert len(secret) >= 8
    assert secret not in run.stdout and secret not in run.stderr
