"""A thin, typed client of supervisord's XML-RPC interface over its unix socket."""

from __future__ import annotations

import xmlrpc.client
from typing import Any, cast

from drillbook.errors import StackError


class SupervisorClient:
    """Calls supervisord; every fault of the transport becomes a StackError naming the socket."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def _proxy(self) -> Any:
        # A new proxy per call: the transport is not thread-safe, and the prober, the drill and
        # the undo stack may call from different threads.
        transport = _supervisor_transport()(None, None, f"unix://{self.socket_path}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def call(self, method: str, *args: object) -> Any:
        target: Any = self._proxy()
        for part in method.split("."):
            target = getattr(target, part)
        try:
            return target(*args)
        except xmlrpc.client.Fault as exc:
            raise StackError(f"supervisord {method}{args}: {exc.faultString}") from exc
        except OSError as exc:
            raise StackError(
                f"supervisord at {self.socket_path} is not answering ({exc}); "
                "the embedded stack is not running"
            ) from exc

    def processes(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.call("supervisor.getAllProcessInfo"))

    def process(self, full_name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("supervisor.getProcessInfo", full_name))

    def start(self, full_name: str, wait: bool = True) -> None:
        self.call("supervisor.startProcess", full_name, wait)

    def stop(self, full_name: str, wait: bool = True) -> None:
        self.call("supervisor.stopProcess", full_name, wait)

    def tail(self, full_name: str, length: int) -> str:
        out = self.call("supervisor.tailProcessStderrLog", full_name, 0, length)
        return cast(str, out[0])

    def tail_stdout(self, full_name: str, length: int) -> str:
        out = self.call("supervisor.tailProcessStdoutLog", full_name, 0, length)
        return cast(str, out[0])

    def alive(self) -> bool:
        try:
            return self.call("supervisor.getState")["statename"] == "RUNNING"  # type: ignore[no-any-return]
        except StackError:
            return False

    def shutdown(self) -> None:
        self.call("supervisor.shutdown")


def _supervisor_transport() -> Any:
    """supervisor's XML-RPC transport, imported on first use: supervisor comes with the
    `embedded` extra, and importing drillbook must not need it."""
    try:
        from supervisor.xmlrpc import SupervisorTransport
    except ImportError:
        from drillbook.embedded import require_embedded

        require_embedded("talking to supervisord")
        raise
    return SupervisorTransport
