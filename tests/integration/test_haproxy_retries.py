"""The embedded proxy retries a read that a dying replica dropped, and never retries a write.

A replica killed mid-request (or while HAProxy holds an idle keep-alive connection to it)
closes the connection without a response. An ingress in front of Kubernetes pods retries such
an idempotent request on another pod, so users never see it; the embedded stack's HAProxy
(layout.render_haproxy_conf, run here as the stack runs it) must do the same, or the
application drill reports an outage no user would have seen. A write is different: it may have
been applied, so it is not retried, and the writer's ledger sees the failure.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from drillbook.platforms.ports import free_ports
from drillbook.stack.layout import render_haproxy_conf

pytestmark = pytest.mark.integration


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A dropped request ends in a write to the shut-down socket: expected, not news.
        del request, client_address


@dataclass
class Replica:
    """A stand-in replica: healthy to HAProxy's checks; `drops` says whether it answers requests."""

    name: str
    port: int
    drops: bool
    received: Counter[str] = field(default_factory=Counter)
    server: _QuietServer | None = None

    def start(self) -> None:
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn serves HAProxy

            def _answer(self) -> None:
                if self.path == "/readyz":
                    self._send(200)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                replica.received[self.command] += 1
                if replica.drops:
                    # What a replica SIGKILLed mid-request does: no status line, connection gone.
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(200)

            def _send(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                del format, args  # quiet

        self.server = _QuietServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[tuple[str, Replica, Replica]]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (scripts/setup.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="drillbook-haproxy-"))
    front, port0, port1 = free_ports(3)
    config = root / "haproxy.cfg"
    config.write_text(render_haproxy_conf(front, [port0, port1]))
    dying, healthy = Replica("app-0", port0, drops=True), Replica("app-1", port1, drops=False)
    dying.start()
    healthy.start()
    process = subprocess.Popen(
        [haproxy, "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{front}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/readyz", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError("HAProxy did not start within 10 s") from None
                time.sleep(0.05)
        # Both replicas pass their checks (rise 1 after one 250 ms check): both in rotation.
        time.sleep(0.6)
        dying.received.clear()
        healthy.received.clear()
        yield url, dying, healthy
    finally:
        process.terminate()
        process.wait(timeout=10)
        dying.stop()
        healthy.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_read_dropped_by_a_dying_replica_is_served_by_another(
    proxy: tuple[str, Replica, Replica],
) -> None:
    url, dying, healthy = proxy
    with httpx.Client(timeout=5.0) as client:
        statuses = [client.get(url + "/health").status_code for _ in range(10)]
    assert statuses == [200] * 10
    # Round robin sent some reads to the dying replica: each of them was retried elsewhere.
    assert dying.received["GET"] >= 1
    assert healthy.received["GET"] == 10


def test_a_write_dropped_by_a_dying_replica_is_not_retried(
    proxy: tuple[str, Replica, Replica],
) -> None:
    url, dying, healthy = proxy
    failed = 0
    with httpx.Client(timeout=5.0) as client:
        for _ in range(10):
            try:
                status = client.post(url + "/deliberate", content=b"{}").status_code
            except httpx.TransportError:
                status = 0
            failed += status != 200
    # Every write that reached the dying replica failed to its writer; none was sent twice.
    assert dying.received["POST"] >= 1
    assert failed == dying.received["POST"]
    assert healthy.received["POST"] + dying.received["POST"] == 10
