"""A real TCP proxy on loopback whose path can be cut or made slow, for tests of the checks.

Modes: "pass" (forward as is), "refuse" (every connection, open or new, is closed at once: an
outage) and a delay (each chunk from the client is forwarded that many seconds late: a slow
network path that stays slow). Every loop is bounded by a stop flag and socket timeouts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from drillbook.platforms.ports import free_ports

_ACCEPT_TIMEOUT_SECONDS = 0.2
_CHUNK = 65536


class SlowProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_ports(1)[0]
        self.delay_seconds = 0.0
        self.refusing = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(_ACCEPT_TIMEOUT_SECONDS)
        self._thread = threading.Thread(target=self._accept, name="slow-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def refuse(self) -> None:
        """An outage: drop every open connection and close new ones at once."""
        self.refusing = True
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def slow_down(self, seconds: float) -> None:
        """Serve again, but `seconds` late on every request."""
        self.delay_seconds = seconds
        self.refusing = False

    def close(self) -> None:
        self._stop.set()
        self.refuse()
        self._listener.close()
        self._thread.join(5.0)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink, slow in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, slow), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        source.settimeout(1.0)
        try:
            while not self._stop.is_set():
                try:
                    data = source.recv(_CHUNK)
                except TimeoutError:
                    continue
                if not data or self.refusing:
                    break
                if slow and self.delay_seconds:
                    time.sleep(self.delay_seconds)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._sockets -= {source, sink}
