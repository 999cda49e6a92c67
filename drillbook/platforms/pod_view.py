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

With a `missing` function each answer also says whether a pod of the component could start now
(`config_complete`, `missing_config`: the Secrets and ConfigMaps its template needs, see
drillbook.platforms.pod_config), and `GET /components` answers for every component at once,
as an application's /health does for its dependencies:

    200 {"ready": true, "complete": true, "config_complete": true,
         "components": {"app": {...}, "database": {...}, ...}}   every one has a Ready pod
    503 {... "ready": false ...}                                  some component has none
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drillbook.core.platform import ComponentStatus
from drillbook.errors import DrillError
from drillbook.platforms.ports import free_ports

ObserveFn = Callable[[str], tuple[ComponentStatus, list[str]]]
"""A component's status and the names of its Ready pods (KubernetesPlatform.observe)."""
MissingFn = Callable[[str], list[str]]
"""What a component's pods need to start and does not exist (KubernetesPlatform.missing_config)."""
_PREFIX = "/components/"
_ALL = "/components"


def status_document(
    status: ComponentStatus,
    *,
    context: str,
    ready_names: list[str],
    missing_config: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON answer for one component (`missing_config` None: not looked at)."""
    document: dict[str, Any] = {
        "component": status.component,
        "context": context,
        "desired": status.desired,
        "ready": status.ready,
        "running": status.running,
        "complete": status.desired > 0 and status.ready >= status.desired,
        "ready_pods": ready_names,
        "pods": {r.name: r.state for r in status.replicas},
    }
    if missing_config is not None:
        document["config_complete"] = not missing_config
        document["missing_config"] = missing_config
    return document


def overall_document(context: str, documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The answer for every component: each one's document, and whether all have a Ready pod,
    are complete and could start pods (a component whose API call failed counts as neither)."""

    def every(key: str, test: Callable[[Any], bool]) -> bool:
        return bool(documents) and all(test(d.get(key)) for d in documents.values())

    return {
        "context": context,
        "ready": every("ready", lambda v: isinstance(v, int) and v >= 1),
        "complete": every("complete", lambda v: v is True),
        "config_complete": every("config_complete", lambda v: v is not False),
        "components": dict(documents),
    }


class PodReadinessView:
    """Serves /components/<name> from an observe function, on 127.0.0.1, in a thread."""

    def __init__(
        self,
        observe: ObserveFn,
        context: str,
        *,
        components: Sequence[str] = (),
        missing: MissingFn | None = None,
    ) -> None:
        self._observe = observe
        self._context = context
        self._components = list(components)
        self._missing = missing
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        route = path.split("?", 1)[0].rstrip("/")
        if route == _ALL and self._components:
            documents = {name: self._component(name)[1] for name in self._components}
            overall = overall_document(self._context, documents)
            healthy = overall["ready"] and overall["config_complete"]
            return (200 if healthy else 503), overall
        if not route.startswith(_PREFIX) or len(route) == len(_PREFIX):
            return 404, {"error": f"unknown path {path!r}; ask for {_PREFIX}<component>"}
        return self._component(route[len(_PREFIX) :].strip("/"))

    def _component(self, name: str) -> tuple[int, dict[str, Any]]:
        try:
            status, ready = self._observe(name)
            missing = self._missing(name) if self._missing is not None else None
        except DrillError as exc:
            # The API server refused or did not answer: to a user, that is no service either.
            return 503, {"component": name, "error": str(exc)}
        document = status_document(
            status, context=self._context, ready_names=ready, missing_config=missing
        )
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
