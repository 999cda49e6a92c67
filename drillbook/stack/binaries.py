"""Finding the server binaries the embedded stack runs, with a way out when one is missing."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from drillbook.errors import MissingDependency

_INSTALL_HINTS = {
    "postgres": "apt-get install postgresql (Debian/Ubuntu)",
    "initdb": "apt-get install postgresql (Debian/Ubuntu)",
    "redis-server": "apt-get install redis-server",
    "haproxy": "apt-get install haproxy",
    "supervisord": "pip install supervisor",
}


def postgres_bin_dir(configured: str | None) -> Path:
    """The directory holding `postgres` and `initdb`.

    An explicitly configured directory is the only place looked at: silently using another
    PostgreSQL than the one the user named would drill the wrong thing.
    """
    if configured:
        candidates = [configured]
        looked = f"stack.postgres_bin_dir = {configured!r}"
    else:
        found = shutil.which("postgres")
        candidates = [str(Path(found).resolve().parent)] if found else []
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        looked = "PATH and /usr/lib/postgresql/*/bin"
    for directory in candidates:
        if all(os.access(Path(directory) / b, os.X_OK) for b in ("postgres", "initdb")):
            return Path(directory)
    raise MissingDependency(
        f"PostgreSQL server binaries 'postgres' and 'initdb' not found (looked in {looked}). "
        f"Install them: {_INSTALL_HINTS['postgres']}, or set stack.postgres_bin_dir in the "
        "drillbook configuration to the directory that holds them."
    )


def require_binary(name: str) -> Path:
    """The path of an executable on PATH, or MissingDependency saying how to install it."""
    found = shutil.which(name)
    if found is None:
        hint = _INSTALL_HINTS.get(name, f"install '{name}'")
        raise MissingDependency(f"'{name}' not found on PATH; install it: {hint}")
    return Path(found)
