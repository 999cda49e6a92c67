"""Without a Weaviate binary nothing pretends: the stack starts without a vector store, and the
vector-store drills fail before anything is injected, naming the build script; none passes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.processes import REPO

pytestmark = pytest.mark.integration


def test_vector_drills_fail_as_not_provided_without_weaviate(tmp_path: object) -> None:
    env = {**os.environ, "DRILLBOOK_WEAVIATE_BIN": "/nonexistent/weaviate-server"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly/test_vector_db_failure.py",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfE",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert " passed" not in output, output[-3000:]
    assert output.count("vector store not provided") >= 2, output[-3000:]
    assert "scripts/build-weaviate.sh" in output, output[-3000:]
