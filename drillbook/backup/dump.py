"""`pg_dump | gzip` and its way back, `gunzip | psql` in one transaction.

A dump is written to a `.partial` file and renamed only when pg_dump succeeded, so a failed
backup never leaves a file that looks like a backup. A load runs as one transaction with
ON_ERROR_STOP: it either loads completely or not at all.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import shutil
import subprocess
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from drillbook.backup.cluster import pg_tool
from drillbook.backup.errors import BackupCorrupt, BackupError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DumpFile:
    path: Path
    size_bytes: int
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def take_dump(
    pg_bin: Path,
    *,
    host: str,
    port: int,
    user: str,
    database: str,
    target: Path,
    timeout_seconds: float = 600.0,
) -> DumpFile:
    """`pg_dump -U user database | gzip > target` (plain SQL, gzip-compressed)."""
    partial = target.with_name(target.name + ".partial")
    command = [
        str(pg_tool(pg_bin, "pg_dump")),
        "-h",
        host,
        "-p",
        str(port),
        "-U",
        user,
        "--no-password",
        database,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # stderr drained beside stdout, so a chatty pg_dump can never block on a full pipe.
    errors, reader = _drain(process)
    try:
        assert process.stdout is not None
        with gzip.open(partial, "wb", compresslevel=6) as out:
            shutil.copyfileobj(process.stdout, out, _CHUNK)
        code = process.wait(timeout=timeout_seconds)
    except BaseException:
        process.kill()
        process.wait(timeout=5)
        partial.unlink(missing_ok=True)
        raise
    finally:
        reader.join(timeout=5)
    if code != 0:
        partial.unlink(missing_ok=True)
        message = b"".join(errors).decode(errors="replace").strip()[-600:]
        raise BackupError(f"pg_dump of {database} on 127.0.0.1:{port} failed ({code}): {message}")
    partial.replace(target)
    return DumpFile(target, target.stat().st_size, file_sha256(target))


def verify_gzip(path: Path, name: str) -> None:
    """Read the whole file through gzip (its CRC and length checks), or BackupCorrupt."""
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(_CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupCorrupt(
            f"backup {name} is corrupt: it does not decompress ({exc}); restore another one "
            "(--backup NAME)"
        ) from None


def load_dump(
    pg_bin: Path,
    path: Path,
    *,
    name: str,
    host: str,
    port: int,
    user: str,
    database: str,
    timeout_seconds: float = 600.0,
) -> None:
    """`gunzip -c path | psql` into `database`, all or nothing; BackupCorrupt if it fails."""
    command = [
        str(pg_tool(pg_bin, "psql")),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-h",
        host,
        "-p",
        str(port),
        "-U",
        user,
        "-d",
        database,
        "--no-password",
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    errors, reader = _drain(process)
    try:
        assert process.stdin is not None
        try:
            with gzip.open(path, "rb") as dump:
                shutil.copyfileobj(dump, process.stdin, _CHUNK)
        except BrokenPipeError:
            pass  # psql stopped at the first error; its message says which
        except (OSError, EOFError, zlib.error) as exc:
            process.kill()
            raise BackupCorrupt(
                f"backup {name} is corrupt: it does not decompress ({exc})"
            ) from None
        finally:
            _close_stdin(process)
        code = process.wait(timeout=timeout_seconds)
    except BaseException:
        process.kill()
        process.wait(timeout=5)
        raise
    finally:
        reader.join(timeout=5)
    if code != 0:
        message = b"".join(errors).decode(errors="replace").strip()[-600:]
        raise BackupCorrupt(
            f"backup {name} does not load into a fresh database (psql exit {code}): {message}"
        )


def _drain(process: subprocess.Popen[bytes]) -> tuple[list[bytes], threading.Thread]:
    """Read the child's stderr in a thread; the list holds it once the thread is joined."""
    collected: list[bytes] = []

    def read() -> None:
        if process.stderr is not None:
            collected.append(process.stderr.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return collected, thread


def _close_stdin(process: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (end of the dump) even if the pipe is already broken."""
    if process.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
