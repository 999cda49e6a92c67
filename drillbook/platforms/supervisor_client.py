"""A thin, typed client of supervisord's XML-RPC interface over its unix socket."""

from __future__ import annotations

import time
import xmlrpc.client
from typing import Any, cast

from drillbook.errors import StackError

# supervisor.xmlrpc.Faults.ALREADY_STARTED: the process is STARTING or RUNNING already.
_ALREADY_STARTED = 60
# How long a start another caller began may take to reach RUNNING; supervisord's own startsecs
# for the stack's programs is a few seconds, and a process that never gets there is an error.
_STARTED_ELSEWHERE_TIMEOUT_SECONDS = 60.0
_STARTED_ELSEWHERE_POLL_SECONDS = 0.1
# BACKOFF and EXITED are left out: supervisord retries and autorestarts from them.
_NEVER_RUNNING = frozenset({"FATAL", "STOPPED"})


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
        """Start a process; idempotent, as a controller's "make it run" is.

        Two callers may start the same process at once: an abort's undo starts a replica while
        the runbook's recovery step, in another thread, is still inside its own start. The
        second gets ALREADY_STARTED, which means the desired state is on its way, so it waits
        for RUNNING like the first (when asked to wait) instead of failing the undo."""
        try:
            self.call("supervisor.startProcess", full_name, wait)
        except StackError as exc:
            fault = exc.__cause__
            if not (isinstance(fault, xmlrpc.client.Fault) and fault.faultCode == _ALREADY_STARTED):
                raise
            if wait:
                self._wait_running(full_name)

    def _wait_running(self, full_name: str) -> None:
        deadline = time.monotonic() + _STARTED_ELSEWHERE_TIMEOUT_SECONDS
        while True:
            state = str(self.process(full_name)["statename"])
            if state == "RUNNING":
                return
            if state in _NEVER_RUNNING or time.monotonic() >= deadline:
                raise StackError(
                    f"supervisord process {full_name} was being started by another caller but "
                    f"is {state}, not RUNNING; see its log under the stack's logs/"
                )
            time.sleep(_STARTED_ELSEWHERE_POLL_SECONDS)

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
