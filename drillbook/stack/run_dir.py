"""The stack's run directory: taken only when new or empty, given back as it was found.

A user may name the run directory (`stack.run_dir`, `--drillbook-run-dir`). drillbook must not
delete or re-permission what it did not create: a directory that exists and holds anything but
an earlier stack's files is refused; one that exists empty is used and, at the end, emptied and
given back its mode; only a directory drillbook created is removed whole. What drillbook did is
in a marker file inside it, so a watchdog or `drillbook stack down` in another process knows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from drillbook.errors import StackError

MARKER = ".drillbook-run-dir"
LOCK_NAME = "drill.lock"
"""The run's lock on this stack (drillbook.engine.lock), taken before the stack is started in
the directory: the one file a directory may hold before it is the stack's."""
_TRAVERSABLE = 0o711
"""Traversable (not listable) by the service users (postgres) that own directories below."""


def take(run_dir: Path, *, created: bool = False) -> None:
    """Make `run_dir` the stack's: created, or an empty (or an earlier stack's) directory.
    `created`: the caller made it for the stack just now (a fresh temporary directory)."""
    marker = run_dir / MARKER
    if created:
        record = {"created": True, "mode": _TRAVERSABLE}
    elif run_dir.exists():
        if not run_dir.is_dir():
            raise StackError(f"the stack's run directory {run_dir} is a file, not a directory")
        if marker.exists():
            return  # an earlier stack's (a reused stack, or one that died): ours already
        if any(entry.name != LOCK_NAME for entry in run_dir.iterdir()):
            raise StackError(
                f"the stack's run directory {run_dir} is not empty and not a drillbook stack's: "
                "name a new or empty directory (drillbook empties its run directory when the "
                "stack stops, and will not do that to other files)"
            )
        record = {"created": False, "mode": run_dir.stat().st_mode & 0o7777}
    else:
        run_dir.mkdir(parents=True)
        record = {"created": True, "mode": _TRAVERSABLE}
    run_dir.chmod(_TRAVERSABLE)
    marker.write_text(json.dumps(record) + "\n", encoding="utf-8")


def give_back(run_dir: Path) -> None:
    """Remove what the stack put in `run_dir`: the whole directory if drillbook created it,
    else its contents, with the directory's mode as it was found. Without a marker (not a
    stack's directory) nothing is touched."""
    marker = run_dir / MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if record.get("created", False):
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for entry in run_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    with contextlib.suppress(OSError, TypeError):
        os.chmod(run_dir, int(record["mode"]))
