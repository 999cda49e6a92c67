"""Free loopback ports below 32768, reserved machine-wide for a while.

Port 0 would give an ephemeral port (32768-60999 here), which the kernel may hand to an
outgoing connection before our server binds it; so ports are drawn from a private range.

A port that is free when checked may be taken by another drill run on the same machine before
the service meant for it binds it (a stack starts a dozen services over several seconds). So
each port handed out is also reserved: a file named after it, created exclusively in a
directory every run on the machine shares, names the process that took it. Another run skips a
reserved port until the reservation expires (by then the service holds the port itself, which
the bind check sees) or its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import tempfile
import time
from pathlib import Path

from drillbook.errors import StackError

LOW, HIGH = 20000, 32000
RESERVATION_SECONDS = 180.0
"""How long a handed-out port stays reserved: past the slowest start of a stack's services."""


def reservations_dir() -> Path:
    return Path(tempfile.gettempdir()) / "drillbook-port-reservations"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(
    count: int, *, host: str = "127.0.0.1", rng: random.Random | None = None
) -> list[int]:
    """`count` distinct ports that were free when checked, each reserved for this process."""
    chooser = rng or random.Random()
    chosen: list[int] = []
    for _ in range(count * 50):
        port = chooser.randint(LOW, HIGH)
        if port not in chosen and port_is_free(port, host) and _reserve(port):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise StackError(f"could not find {count} free loopback ports in {LOW}-{HIGH}")


def _reserve(port: int, *, now: float | None = None) -> bool:
    """Take the machine-wide reservation of `port`; False when another live process holds a
    reservation that has not expired."""
    directory = reservations_dir()
    try:
        directory.mkdir(mode=0o1777, parents=True, exist_ok=True)
    except OSError:
        return True  # no shared place to reserve in: the bind check alone, as before
    path = directory / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if not _expired(path, now=now):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a stale reservation: take it over (one retry)
            continue
        except OSError:
            return True
        with os.fdopen(fd, "w") as out:
            out.write(f"{os.getpid()}\n")
        return True
    return False


def _expired(path: Path, *, now: float | None = None) -> bool:
    try:
        age = (now if now is not None else time.time()) - path.stat().st_mtime
        holder = int(path.read_text().strip() or "0")
    except (OSError, ValueError):
        return True
    if age > RESERVATION_SECONDS:
        return True
    try:
        os.kill(holder, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
