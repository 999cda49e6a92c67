"""One file inside a Compose service's named volume, read and written through the engine's API:
what a storage failure damages (a database's data file) and what its undo puts back.

The engine's API only (a throwaway container that mounts the volume where the service does and
is never started; `docker cp` of the file), as for a volume's copy
(drillbook.platforms.docker_volumes): it works with an engine whose files this process cannot
read, and the file keeps its owner and mode. A file travels as the one-member tar archive the
engine hands out, and that archive (header and content) is what is kept and put back.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from pathlib import Path
from typing import Any

from drillbook.errors import FaultFailed
from drillbook.platforms.docker_volumes import _throwaway


def _inside(mounted_at: str, relative_path: str) -> str:
    return posixpath.join(mounted_at.rstrip("/"), relative_path)


def read_archive(
    client: Any, image: str, volume: str, mounted_at: str, relative_path: str
) -> bytes | None:
    """The file as a one-member tar archive; None when the volume has no such file."""
    import docker.errors

    helper = _throwaway(client, image, volume, mounted_at)
    try:
        stream, _ = helper.get_archive(_inside(mounted_at, relative_path))
        return b"".join(stream)
    except docker.errors.NotFound:
        return None
    finally:
        helper.remove(force=True)


def content_of(archive: bytes) -> bytes:
    """The file's bytes in an archive from `read_archive`."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = next(m for m in tar.getmembers() if m.isfile())
        extracted = tar.extractfile(member)
        assert extracted is not None  # a regular file always has content
        return extracted.read()


def with_content(archive: bytes, data: bytes) -> bytes:
    """The same one-member archive (name, owner, mode, times) holding `data` instead."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = next(m for m in tar.getmembers() if m.isfile())
    member.size = len(data)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(member, io.BytesIO(data))
    return out.getvalue()


def write_archive(
    client: Any, image: str, volume: str, mounted_at: str, relative_path: str, archive: bytes
) -> None:
    """Put a one-member archive back where `relative_path` is (the member's name is its
    basename, as `read_archive` gives it)."""
    folder = posixpath.dirname(_inside(mounted_at, relative_path))
    helper = _throwaway(client, image, volume, mounted_at)
    try:
        if not helper.put_archive(folder, archive):
            raise FaultFailed(f"the engine refused to write {relative_path} in volume {volume}")
    finally:
        helper.remove(force=True)


def keep(archive: bytes, saved: Path) -> None:
    """The original, on this machine, whole before anything is damaged (written under a
    temporary name, fsynced, renamed)."""
    saved.parent.mkdir(parents=True, exist_ok=True)
    partial = saved.with_name(saved.name + ".partial")
    with open(partial, "wb") as out:
        out.write(archive)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(saved)
