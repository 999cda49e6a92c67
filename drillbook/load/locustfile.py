"""The Locust user of drillbook's load: realistic calls on the target's critical endpoints.

Runs inside Locust's own process (never imported by the drill process: Locust must patch the
process with gevent before urllib3 or boto3 are imported, see drillbook.load.runner). Each
request is recorded as one JSON line:

    {"e": endpoint, "t": monotonic sent, "w": wall sent, "l": latency s, "ok": bool,
     "s": HTTP status or null, "x": error, "n": host name}

A single process writes the lines itself; in distributed mode each worker sends its lines to
the master with its regular stats report (so workers on other machines work too) and the master
writes them. The plan comes from the file named by DRILLBOOK_LOAD_PLAN, or, on a worker started
by hand elsewhere, from the master.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import os
import random
import socket
import threading
import time
import uuid
from typing import Any

import gevent
from locust import HttpUser, events, task
from locust import runners as locust_runners
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from drillbook.core.answer_reasons import explain_body
from drillbook.load.plan import (
    PARENT_ENV,
    PLAN_ENV,
    TRACE_READ,
    WORKER_KEY_ENV,
    Endpoint,
    LoadPlan,
)

# Workers report every 3 s by default; the drill judges the last seconds after recovery, so
# report more often (cheap on loopback, and still fine across machines).
locust_runners.WORKER_REPORT_INTERVAL = 0.5

_PLAN_MESSAGE = "drillbook-plan"
_PLAN_REQUEST = "drillbook-plan-request"
_SAMPLES_KEY = "drillbook_samples"
_TOKEN_MESSAGE = "drillbook-token"
_NODE = socket.gethostname()
_PARENT_POLL_SECONDS = 0.5
# How often the token file is looked at (a stat; read only when it changed). Short, because
# after a re-issue every request sent with the old token is refused and counted as an error.
_TOKEN_POLL_SECONDS = 0.05


class _State:
    """Per process: the plan, where samples go, the request count."""

    def __init__(self) -> None:
        self.plan: LoadPlan | None = None
        self.mode = "local"
        self.out: Any = None
        self.buffer: list[str] = []
        self.count = 0
        self.quitting = False
        self.lock = threading.Lock()
        self.environment: Environment | None = None
        self.trusted: set[str] = set()
        """Workers (node ids) that proved the worker key: the only ones sent the token."""
        self.token: str | None = None
        self.token_mtime = 0.0
        self.token_checked = 0.0

    def load_plan_file(self) -> None:
        path = os.environ.get(PLAN_ENV)
        if path:
            self.plan = LoadPlan.read(path)

    def emit(self, line: str) -> None:
        if self.mode == "worker":
            self.buffer.append(line)
            return
        self.write([line])

    def write(self, lines: list[str]) -> None:
        if not lines or self.plan is None:
            return
        if self.out is None:
            self.out = open(self.plan.samples_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.out.write("".join(line + "\n" for line in lines))
        self.count += len(lines)
        if self.count >= self.plan.max_requests and not self.quitting:
            # The count bound: stop everything (in distributed mode the master stops workers).
            runner = self.environment.runner if self.environment is not None else None
            if runner is not None:
                self.quitting = True
                gevent.spawn(runner.quit)

    def refresh_token(self) -> bool:
        """Re-read the token file when it changed; True when the token is new."""
        plan = self.plan
        if plan is None or not plan.token_path:
            return False
        try:
            mtime = os.stat(plan.token_path).st_mtime
            if mtime == self.token_mtime:
                return False
            with open(plan.token_path, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError:
            return False  # a remote worker has no such file: the master sends the token
        self.token_mtime = mtime
        changed = token != self.token
        self.token = token or None
        return changed

    def bearer(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self.token_checked >= _TOKEN_POLL_SECONDS:
            self.token_checked = now
            self.refresh_token()
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


STATE = _State()
STATE.load_plan_file()


def _on_init(environment: Environment, **_: Any) -> None:
    STATE.environment = environment
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        STATE.mode = "worker"

        def on_plan(environment: Environment, msg: Any, **_: Any) -> None:
            if STATE.plan is None:
                STATE.plan = LoadPlan.from_json(msg.data["plan"])

        runner.register_message(_PLAN_MESSAGE, on_plan)

        def on_token(environment: Environment, msg: Any, **_: Any) -> None:
            STATE.token = msg.data["token"] or None

        runner.register_message(_TOKEN_MESSAGE, on_token)
        # Ask for the plan only now: a worker connects to its master before this init event,
        # so a plan pushed on connect could arrive before the handlers above exist. The
        # request proves the worker knows the key: the master hands the plan and the bearer
        # token to no one else.
        if STATE.plan is None:
            runner.send_message(_PLAN_REQUEST, {"proof": _proof(runner.client_id)})

        def on_report(client_id: str, data: dict[str, Any]) -> None:
            data[_SAMPLES_KEY], STATE.buffer = STATE.buffer, []

        environment.events.report_to_master.add_listener(on_report)  # type: ignore[no-untyped-call]
    elif isinstance(runner, MasterRunner):
        STATE.mode = "master"

        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            STATE.write(list(data.get(_SAMPLES_KEY, [])))

        environment.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]

        def on_plan_request(environment: Environment, msg: Any, **_: Any) -> None:
            if STATE.plan is None:
                return
            proof = (msg.data or {}).get("proof") if isinstance(msg.data, dict) else None
            expected = _proof(msg.node_id)
            if (
                not expected
                or not isinstance(proof, str)
                or not hmac.compare_digest(proof, expected)
            ):
                print(  # the master's log: who asked, never what the key is
                    f"drillbook: refused the plan and token to worker {msg.node_id}: it did not "
                    f"prove the worker key ({WORKER_KEY_ENV})",
                    flush=True,
                )
                return
            STATE.trusted.add(msg.node_id)
            plan = {"plan": STATE.plan.to_json()}
            runner.send_message(_PLAN_MESSAGE, plan, client_id=msg.node_id)
            STATE.refresh_token()
            runner.send_message(_TOKEN_MESSAGE, {"token": STATE.token}, client_id=msg.node_id)

        runner.register_message(_PLAN_REQUEST, on_plan_request)
        gevent.spawn(_forward_tokens, runner)
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        gevent.spawn(_watch_parent, int(parent), environment)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]


def _forward_tokens(runner: MasterRunner) -> None:
    """Master: pass a renewed (or re-issued) token on to every worker."""
    while True:
        gevent.sleep(_TOKEN_POLL_SECONDS)
        if STATE.refresh_token():
            # Only to the workers that proved the key (local workers read the token file).
            for node_id in sorted(STATE.trusted):
                runner.send_message(_TOKEN_MESSAGE, {"token": STATE.token}, client_id=node_id)


def _proof(node_id: str) -> str:
    """HMAC-SHA256 of the worker's node id under the worker key; "" without a key (then no
    request is ever accepted)."""
    key = os.environ.get(WORKER_KEY_ENV, "")
    if not key:
        return ""
    return hmac.new(key.encode(), node_id.encode(), hashlib.sha256).hexdigest()


def _watch_parent(pid: int, environment: Environment) -> None:
    """Stop when the drill process is gone: load must never outlive the drill that wanted it."""
    while True:
        gevent.sleep(_PARENT_POLL_SECONDS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            if environment.runner is not None:
                gevent.spawn(environment.runner.quit)
            gevent.sleep(2.0)
            os._exit(0)
        except PermissionError:
            continue


class DrillUser(HttpUser):
    """One user: calls the health probes, the critical endpoints, and reads back its traces."""

    host = "http://127.0.0.1"

    def on_start(self) -> None:
        for _ in range(600):  # a worker started by hand waits (up to 30 s) for the master's plan
            if STATE.plan is not None:
                break
            gevent.sleep(0.05)
        plan = STATE.plan
        if plan is None:
            raise RuntimeError(f"no load plan: set {PLAN_ENV} or connect to a drillbook master")
        self.plan = plan
        self.traces: collections.deque[str] = collections.deque(maxlen=50)
        self.period = plan.users / plan.rate
        # Spread the users over one period so their requests do not arrive in bursts.
        self.next_at = time.monotonic() + random.uniform(0, self.period)
        self.choices: list[Endpoint | None] = [
            e for e in plan.endpoints for _ in range(max(1, e.weight))
        ]
        if plan.trace_read_path:
            # As many trace reads as deliberations: a user reads back what it decided.
            weight = max((e.weight for e in plan.endpoints if e.records_trace), default=0)
            self.choices += [None] * weight  # None stands for a trace read

    def wait_time(self) -> float:
        # Constant pacing: each user starts a request every `period` seconds; a user that fell
        # behind (a slow answer) starts again at once rather than bunching requests up.
        now = time.monotonic()
        self.next_at = max(self.next_at + self.period, now)
        return max(0.0, self.next_at - now)

    @task
    def call(self) -> None:
        choice = random.choice(self.choices)
        if choice is None:
            if self.traces:
                self.read_trace(random.choice(self.traces))
                return
            choice = next(e for e in self.plan.endpoints if e.records_trace)
        self.request(choice)

    def request(self, endpoint: Endpoint) -> None:
        body = endpoint.json_body
        trace_id: str | None = None
        if endpoint.records_trace and isinstance(body, dict):
            trace_id = f"load-{uuid.uuid4().hex}"
            body = {**body, "trace_id": trace_id}
        ok = self.send(
            endpoint.name,
            endpoint.method,
            endpoint.path,
            body,
            endpoint.auth,
            endpoint.expect_status,
        )
        if ok and trace_id is not None:
            self.traces.append(trace_id)

    def read_trace(self, trace_id: str) -> None:
        auth = any(e.auth for e in self.plan.endpoints if e.records_trace)
        path = self.plan.trace_read_path.replace("{trace_id}", trace_id)
        self.send(TRACE_READ, "GET", path, None, auth, (200,))

    def send(
        self,
        name: str,
        method: str,
        path: str,
        body: Any,
        auth: bool,
        expect: tuple[int, ...],
    ) -> bool:
        headers = dict(self.plan.headers)
        if auth:
            headers.update(STATE.bearer())
        wall = time.time()
        sent = time.monotonic()
        with self.client.request(
            method,
            path,
            json=body,
            headers=headers,
            name=name,
            timeout=self.plan.timeout_seconds,
            catch_response=True,
        ) as response:
            latency = time.monotonic() - sent
            status = int(response.status_code or 0)
            ok = status in expect
            error = ""
            if not ok:
                said = explain_body(response.content or b"") if status else ""
                error = (
                    f"{type(response.error).__name__}: {response.error}"[:200]
                    if response.error and not status
                    else f"HTTP {status}" + (f": {said}" if said else "")
                )
                response.failure(error)
            else:
                response.success()
        STATE.emit(
            json.dumps(
                {
                    "e": name,
                    "t": round(sent, 6),
                    "w": round(wall, 6),
                    "l": round(latency, 6),
                    "ok": ok,
                    "s": status or None,
                    "x": error,
                    "n": _NODE,
                },
                separators=(",", ":"),
            )
        )
        return ok
