"""A component's environment overlay: how the local platform plays `kubectl set env`.

`LocalPlatform.set_env` writes the overlay (a JSON object of name -> value, or null to unset a
variable) and restarts the component's replicas; each replica's launcher
(`python -m drillbook.stack.launch --env-file FILE`) reads it at start and applies it. Both
sides take the format from here, below the platform and the stack alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from pathlib import Path


def env_file_of(run_dir: Path, component: str) -> Path:
    """Where a component's environment overlay lives in the stack's run directory."""
    return run_dir / "env" / f"{component}.json"


def read_overlay(path: Path) -> dict[str, str | None]:
    """The overlay in `path` ({} when there is none); a malformed file stops the start."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a JSON object of variable names to strings or null")
    return dict(data)


def apply_overlay(environ: MutableMapping[str, str], overlay: Mapping[str, str | None]) -> None:
    for name, value in overlay.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
