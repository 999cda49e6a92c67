"""Finding the programs drillbook runs, with a way out when one is missing.

Every external program the embedded stack and the backups run is located here
(`require_binary`): on PATH first, then in the sbin directories, which many non-root shells
leave off PATH although `runuser` and `haproxy` live there. A program that is nowhere raises
MissingDependency naming it, where it was looked for and the command that installs it.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from drillbook.errors import MissingDependency

SBIN_DIRS: tuple[str, ...] = ("/usr/local/sbin", "/usr/sbin", "/sbin")
"""Searched after PATH, in this order."""

_POSTGRESQL = "apt-get install postgresql (Debian/Ubuntu)"

_INSTALL_HINTS = {
    "postgres": _POSTGRESQL,
    "initdb": _POSTGRESQL,
    "pg_ctl": _POSTGRESQL,
    "pg_dump": _POSTGRESQL,
    "pg_restore": _POSTGRESQL,
    "pg_basebackup": _POSTGRESQL,
    "pg_rewind": _POSTGRESQL,
    "psql": _POSTGRESQL,
    "runuser": "apt-get install util-linux (Debian/Ubuntu)",
    "cp": "apt-get install coreutils (Debian/Ubuntu)",
    "redis-server": "apt-get install redis-server (Debian/Ubuntu)",
    "redis-sentinel": "apt-get install redis-sentinel (Debian/Ubuntu)",
    "haproxy": "apt-get install haproxy (Debian/Ubuntu)",
    "ip": "apt-get install iproute2 (Debian/Ubuntu)",
    "chromium": "apt-get install chromium (Debian/Ubuntu)",
    "supervisord": "pip install supervisor",
    "moto_server": "pip install 'moto[server]'",
}


def install_hint(name: str) -> str:
    """The command that installs `name` (a generic one for a program not known here)."""
    return _INSTALL_HINTS.get(name, f"install the package that provides '{name}'")


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


def require_binary(
    name: str,
    *,
    first: Sequence[str | os.PathLike[str]] = (),
    sbin_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> Path:
    """The absolute path of the program `name`, or MissingDependency saying how to install it.

    Looked for in `first` (e.g. the PostgreSQL bin directory), then on PATH, then in
    `sbin_dirs` (default SBIN_DIRS).
    """
    sbin = [os.fspath(d) for d in (SBIN_DIRS if sbin_dirs is None else sbin_dirs)]
    path = os.environ.get("PATH", os.defpath)
    places: list[tuple[str, str | None]] = [(os.fspath(d), os.fspath(d)) for d in first]
    places.append((f"PATH={path}", path))
    places += [(d, d) for d in sbin]
    for _, search in places:
        found = shutil.which(name, path=search)
        if found is not None:
            return Path(found).absolute()
    looked = ", ".join(label for label, _ in places)
    raise MissingDependency(
        f"'{name}' not found (looked in {looked}); install it: {install_hint(name)}"
    )
