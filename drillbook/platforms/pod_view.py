"""A platform-level health endpoint for pods that serve no HTTP (KWOK's simulated pods).

`kubernetes.probes = "pod-readiness"` starts this small HTTP server on loopback and makes it the
target's base URL, so that the drills' ordinary HTTP probes, unchanged, observe what a Service
would route to: `GET /components/<name>` answers from the API server

    200 {"component": "app", "ready": 2, "desired": 2, "complete": true, ...}   some pod Ready
    503 {... "ready": 0 ...}                                                    none Ready

where `ready` counts the pods behind the component's selector whose Ready condition is True and
which are not terminating: the pods a Service's EndpointSlices list as ready. Conditions in the
configuration (`ready >= 1`, `complete == true`) judge it like any JSON health answer. It
measures the platform, not the service: a pod can be Ready and its process still broken.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drillbook.errors import DrillError
from drillbook.platforms.base import ComponentStatus
from drillbook.stack.ports import free_ports

ObserveFn = Callable[[str], tuple[ComponentStatus, list[str]]]
"""A component's status and the names of its Ready pods (KubernetesPlatform.observe)."""
_PREFIX = "/components/"


def status_document(
    status: ComponentStatus, *, context: str, ready_names: list[str]
) -> dict[str, Any]:
    """The JSON answer for one component."""
    return {
        "component": status.component,
        "context": context,
        "desired": status.desired,
        "ready": status.ready,
        "running": status.running,
        "complete": status.desired > 0 and status.ready >= status.desired,
        "ready_pods": ready_names,
        "pods": {r.name: r.state for r in status.replicas},
    }


class PodReadinessView:
    """Serves /components/<name> from an observe function, on 127.0.0.1, in a thread."""

    def __init__(self, observe: ObserveFn, context: str) -> None:
        self._observe = observe
        self._context = context
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if not path.startswith(_PREFIX) or len(path) == len(_PREFIX):
            return 404, {"error": f"unknown path {path!r}; ask for {_PREFIX}<component>"}
        name = path[len(_PREFIX) :].split("?", 1)[0].strip("/")
        try:
            status, ready = self._observe(name)
        except DrillError as exc:
            # The API server refused or did not answer: to a user, that is no service either.
            return 503, {"component": name, "error": str(exc)}
        document = status_document(status, context=self._context, ready_names=ready)
        return (200 if status.ready >= 1 else 503), document

    def start(self) -> None:
        view = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, document = view.answer(self.path)
                body = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # probes arrive every few hundred ms: no access log

        port = free_ports(1)[0]
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="drillbook-pod-readiness-view",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
