"""drillbook's layers hold, and `lint-imports` fails the build when an import breaks them.

The contracts are pyproject.toml's [tool.importlinter] (scripts/test.sh runs `lint-imports`).
Each case copies the library to a scratch directory, plants one import that a contract forbids,
and runs `lint-imports` with the same contracts against the copy: it must fail and name the
contract broken and the import. The unmodified copy passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copy_of_the_library(tmp_path: Path) -> Path:
    """The library and the contracts, copied under `tmp_path` (the root to run from)."""
    shutil.copytree(
        REPO / "drillbook",
        tmp_path / "drillbook",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the copy at `root` (found first on the path), with its contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def words(text: str) -> str:
    """`text` with its line breaks and runs of spaces folded (the report wraps long lines)."""
    return " ".join(text.split())


def plant(root: Path, module: str, statement: str) -> None:
    """Append `statement` to `module` of the copy (a module of drillbook, as a dotted name)."""
    path = root / (module.replace(".", "/") + ".py")
    assert path.is_file(), path
    path.write_text(path.read_text(encoding="utf-8") + f"\n{statement}\n", encoding="utf-8")


def test_the_contracts_hold_on_the_library(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_library(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken\.", words(result.stdout))


@pytest.mark.parametrize(
    ("module", "statement", "contract", "named"),
    [
        (
            "drillbook.core.phases",
            "import drillbook.engine.drill",
            "drillbook's layers (each imports only from the layers below it) BROKEN",
            "drillbook.core is not allowed to import drillbook.engine",
        ),
        (
            "drillbook.platforms.pod_config",
            "from drillbook.stack import local_stack",
            "drillbook's layers (each imports only from the layers below it) BROKEN",
            "drillbook.platforms is not allowed to import drillbook.stack",
        ),
        (
            "drillbook.engine.prober",
            "from drillbook.probes import http",
            "the engine imports only core and config BROKEN",
            "drillbook.engine is not allowed to import drillbook.probes",
        ),
        (
            "drillbook.scenarios.cache.faults",
            "from drillbook.scenarios.database import faults",
            "scenarios: each resource's package on its own, all built on workloads BROKEN",
            "drillbook.scenarios.cache is not allowed to import drillbook.scenarios.database",
        ),
        (
            "drillbook.platforms.local",
            "from drillbook.platforms import kubernetes",
            "the platform adapters do not import each other BROKEN",
            "drillbook.platforms.local is not allowed to import drillbook.platforms.kubernetes",
        ),
    ],
    ids=[
        "core-imports-engine",
        "platforms-import-stack",
        "engine-imports-probes",
        "scenario-imports-scenario",
        "local-imports-kubernetes",
    ],
)
def test_a_planted_import_fails_naming_the_contract(
    tmp_path: Path, module: str, statement: str, contract: str, named: str
) -> None:
    root = copy_of_the_library(tmp_path)
    plant(root, module, statement)
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    report = words(result.stdout)
    assert contract in report
    assert named in report
    assert f"{module} -> {statement.split()[1]}" in report
