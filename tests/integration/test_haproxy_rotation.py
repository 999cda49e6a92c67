"""Which replicas a real HAProxy routes to, read from its stats socket (haproxy_runtime).

HAProxy runs the stack's own configuration (layout.render_haproxy_conf) in front of two tiny
HTTP servers standing in for replicas; the rolling restart waits on exactly this answer before
it takes the next replica down.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from drillbook.platforms.ports import free_ports
from drillbook.stack.haproxy_runtime import in_rotation, server_states
from drillbook.stack.layout import render_haproxy_conf

pytestmark = pytest.mark.integration


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the override)
        del format, args  # quiet


class Replica:
    """A stand-in replica answering /readyz 200 while it runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Ready)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _until(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


@pytest.fixture
def proxy() -> Iterator[tuple[Path, Replica, subprocess.Popen[bytes]]]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (scripts/setup.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="drillbook-haproxy-"))
    front, app0, app1 = free_ports(3)
    socket_path = root / "haproxy.sock"
    config = root / "haproxy.cfg"
    config.write_text(render_haproxy_conf(front, [app0, app1], stats_socket=socket_path))
    replica = Replica(app0)
    replica.start()
    process = subprocess.Popen(
        [haproxy, "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _until("the stats socket answers", lambda: socket_path.exists())
        yield socket_path, replica, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        replica.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_in_rotation_follows_haproxys_own_checks(
    proxy: tuple[Path, Replica, subprocess.Popen[bytes]],
) -> None:
    socket_path, replica, process = proxy
    app0, app1 = in_rotation(socket_path, "app-0"), in_rotation(socket_path, "app-1")
    # app-1 has nothing listening: HAProxy's checks take it out of rotation (fall 2 x 250 ms).
    _until("app-1 down", lambda: server_states(socket_path).get("app-1") == "DOWN")
    assert app0() and not app1()
    assert set(server_states(socket_path)) == {"app-0", "app-1"}

    replica.stop()
    _until("app-0 out of rotation", lambda: not app0())
    replica.start()
    # Back as soon as one check passes (rise 1): what the rolling restart waits for.
    _until("app-0 back in rotation", app0, timeout=2.0)
    assert not in_rotation(socket_path, "no-such-server")()

    process.terminate()
    process.wait(timeout=10)
    # No proxy routes to anything any more: nothing for a rolling restart to wait for.
    assert app1()
