"""A TCP server standing for a site's service in the front door and gateway tests: it greets
every connection with one line (so a test can tell which site answered) and holds it open."""

from __future__ import annotations

import contextlib
import socket
import threading

WAIT_SECONDS = 5.0


class GreetingServer:
    """Greets every connection with `greeting` + newline, then holds it open until closed."""

    def __init__(self, host: str, port: int, greeting: str) -> None:
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self._greeting = greeting.encode() + b"\n"
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            with contextlib.suppress(OSError):
                connection.sendall(self._greeting)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT_SECONDS)
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                connection.close()
