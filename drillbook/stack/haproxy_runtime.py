"""HAProxy's runtime API (its stats socket, read-only): which replicas the proxy routes to now.

A rolling restart must not take the next replica down before the one it just restarted is back
in the proxy's rotation, as a Deployment waits for a new pod to be Ready (and listed in the
Service's endpoints) before it removes an old one. Being ready is not enough locally: HAProxy
only routes to a replica after its own health check (`/readyz`, every 250 ms) has seen it up.
"""

from __future__ import annotations

import csv
import socket
from collections.abc import Callable
from pathlib import Path

SOCKET_NAME = "haproxy.sock"
"""The stats socket's file name in the stack's run directory."""
BACKEND = "eleanor_replicas"
"""The backend of the application's replicas in haproxy.cfg (layout.render_haproxy_conf)."""
_TIMEOUT_SECONDS = 1.0
_MAX_ANSWER_BYTES = 1 << 20


class ProxyUnreachable(Exception):
    """No HAProxy answers on the stats socket (not running, or a stack without a socket)."""


def server_states(socket_path: Path, backend: str = BACKEND) -> dict[str, str]:
    """{server name: status} of `backend` as `show stat` reports it: "UP", "DOWN", "MAINT",
    "DRAIN", or a transition such as "DOWN 1/2" (up again after one more good check)."""
    text = _ask(socket_path, "show stat\n")
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"unexpected answer to 'show stat' from {socket_path}: {text[:200]!r}")
    rows = csv.DictReader([lines[0][2:], *lines[1:]])
    return {
        row["svname"]: row["status"]
        for row in rows
        if row.get("pxname") == backend and row.get("svname") not in (None, "FRONTEND", "BACKEND")
    }


def in_rotation(socket_path: Path, server: str, backend: str = BACKEND) -> Callable[[], bool]:
    """A check: the proxy routes to `server` now (its status is plainly "UP").

    With no proxy to ask (none running, or a stack started without the socket) there is no
    rotation to wait for, and the check passes: a rolling restart then relies on readiness.
    """

    def check() -> bool:
        try:
            return server_states(socket_path, backend).get(server) == "UP"
        except ProxyUnreachable:
            return True
        except (OSError, ValueError):
            return False  # a slow or odd answer: ask again on the next poll

    return check


def exchange(socket_path: Path, command: str, *, timeout: float = _TIMEOUT_SECONDS) -> str:
    """Send one command to an HAProxy runtime socket and read the whole answer (HAProxy
    closes the connection after one command out of interactive mode). OSError when the
    socket cannot be reached (missing, refused, timed out)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall(command.encode("ascii"))
        chunks: list[bytes] = []
        received = 0
        while received < _MAX_ANSWER_BYTES:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _ask(socket_path: Path, command: str) -> str:
    try:
        return exchange(socket_path, command)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ProxyUnreachable(f"no HAProxy stats socket at {socket_path}: {exc}") from None
