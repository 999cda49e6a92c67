"""Files that hold a secret: owner-only from their first byte, replaced whole.

`path.touch(mode=0o600)` then `write_text` keeps the mode of a file that already exists (an
earlier run's, a file someone made readable): the secret lands in it anyway. Here the content
goes to a new temporary file created owner-only (O_EXCL: never an existing one), fsynced, then
renamed over the target, so the target is always owner-only and never half written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path, content: str | bytes) -> None:
    """Replace `path` with `content`, mode 0600 whatever the file was before."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
