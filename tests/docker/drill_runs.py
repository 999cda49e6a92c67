"""Monthly drills run as a user runs them on the reference Compose project: pytest in a
subprocess with --drillbook-config configs/compose.toml, its run file read back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.docker.engine import CONFIG
from tests.drill_subprocess import run_drills


def run_compose_drills(
    runs: Path, modules: Sequence[str], selection: str | None = None, *, timeout: float = 900.0
) -> dict[str, Any]:
    """The run file (latest.json) with "returncode" and "output" (the tail of the output)."""
    selected = [*modules, "-k", selection] if selection else list(modules)
    return run_drills(CONFIG, runs, selected, env=os.environ, timeout=timeout)
