"""Load during drills, on the embedded stack and on real Locust processes.

- an outage shows up in the load as errors, and the figures are normal again after recovery;
- the performance check fails when latency stays degraded after "recovery" (a real slow proxy
  between the users and the service);
- Locust's distributed mode: a master on loopback and a worker started by hand, as on another
  machine, that gets its plan and its bearer token from the master.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drillbook.assembly.drill import build_drill
from drillbook.config.model import Component
from drillbook.core.steps import Fault, RecoveryStep
from drillbook.core.undo import UndoAction
from drillbook.engine.drill import Drill
from drillbook.errors import VerificationFailed
from drillbook.load.checks import load_error_rate_normal, performance_normal
from drillbook.load.companion import LoadCompanion
from drillbook.load.plan import WORKER_KEY_ENV, Endpoint, LoadPlan
from drillbook.load.runner import start_locust
from drillbook.platforms.ports import free_ports
from drillbook.scenarios.workloads.faults import kill_replicas
from drillbook.scenarios.workloads.runbook import restart_workload
from drillbook.target import Target
from tests.integration.slow_proxy import SlowProxy

pytestmark = [pytest.mark.integration]

# Slower than the baseline's allowance by a wide margin: the allowance is 2 x p95 + 50 ms, and
# the baseline p95 on this stack is tens of milliseconds.
DEGRADED_SECONDS = 0.3


def _load(drill: Drill) -> LoadCompanion:
    companion = drill.companion("load")
    assert isinstance(companion, LoadCompanion)
    return companion


@pytest.mark.drill(scenario="application-failure", component="app", option="load in an outage")
def test_load_shows_errors_during_an_outage_and_normal_figures_after(
    drill: Drill, app: Component
) -> None:
    drill.inject(kill_replicas(drill.platform, app.name, count="all"))
    drill.wait_until_detected()
    drill.recover(restart_workload(drill.platform, app, ready_timeout=60))
    drill.wait_until_recovered()
    results = drill.verify(load_error_rate_normal, performance_normal)
    assert all(r.passed for r in results)

    stats = _load(drill).phase_stats()
    print({phase: s.to_json() for phase, s in stats.items()})
    assert stats["baseline"].requests >= drill.config.load.min_requests
    during = stats["fault"]
    assert during.errors >= 5, f"the load saw no outage: {during.to_json()}"
    assert (during.error_rate or 0) > 0.5
    after = stats["recovered"]
    assert after.requests >= drill.config.load.min_requests
    assert (after.error_rate or 0) <= drill.config.load.error_rate_margin
    figures = drill.figures()["load"]
    assert figures["phases"]["fault"]["errors"] == during.errors
    assert set(figures["endpoints"]) == {"health", "deliberate", "trace-read"}


def _then_nothing(action: Callable[[], None]) -> dict[str, Any]:
    action()
    return {}


@pytest.fixture
def slow_proxy(drill_target: Target) -> Iterator[SlowProxy]:
    assert drill_target.stack is not None
    proxy = SlowProxy(drill_target.stack.port("proxy"))
    yield proxy
    proxy.close()


def test_performance_check_fails_when_latency_stays_degraded(
    request: pytest.FixtureRequest, drill_target: Target, slow_proxy: SlowProxy
) -> None:
    # Users (probes and load) reach the service through a path that fails, then comes back
    # slow: health answers again ("recovered"), but every request is DEGRADED_SECONDS late.
    behind_proxy = dataclasses.replace(
        drill_target, config=drill_target.config.with_base_url(slow_proxy.url)
    )
    marker = {"scenario": "application-failure", "component": "app", "option": "slow path"}
    drill = build_drill(behind_proxy, request.node, marker)
    try:
        drill.begin()
        drill.inject(
            Fault(
                name="cut-network-path",
                description="cut the users' network path to the service",
                inject=lambda: _then_nothing(slow_proxy.refuse),
                # The proxy belongs to this test, which closes it; the journaled undo is a
                # harmless reconcile of the stack's own proxy.
                undo=UndoAction(
                    "reconcile the proxy", "local", "reconcile", {"component": "proxy"}
                ),
            )
        )
        drill.wait_until_detected()
        drill.recover(
            RecoveryStep(
                "restore the path (slow)",
                "restore the network path",
                lambda: _then_nothing(lambda: slow_proxy.slow_down(DEGRADED_SECONDS)),
            )
        )
        drill.wait_until_recovered()
        with pytest.raises(VerificationFailed) as failed:
            # A longer window than usual: slow requests are fewer, and the check needs
            # `min_requests` of them after recovery to judge at all.
            drill.verify(load_error_rate_normal, performance_normal, window_seconds=8.0)
        results = {r.name: r for r in drill.check_results}
        performance = results["performance metrics normal"]
        assert not performance.passed, performance.detail
        assert "after_p95_seconds" in performance.figures, performance.detail
        assert performance.figures["after_p95_seconds"] >= DEGRADED_SECONDS
        assert "performance metrics normal" in str(failed.value)
        # The path is slow, not failing: the error-rate check has nothing to object to.
        assert results["error rates normal (load)"].passed, results["error rates normal (load)"]
    finally:
        drill.finish()


class _TokenCheckingHandler(BaseHTTPRequestHandler):
    token = ""

    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == f"Bearer {self.token}"
        body = b'{"status": "healthy"}' if ok else b'{"error": "unauthorized"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


WORKER_KEY = "worker-key-for-the-distributed-tests"


def _hand_worker_run(
    tmp_path: Path, token: str, worker_env: dict[str, str], *, want_lines: int, wait: float
) -> tuple[list[str], str, int | None, int | None, str]:
    """A master expecting one external worker, and one worker started by hand as a user on
    another machine does (the locustfile and the master's address, no plan file, no token
    file) with `worker_env`. Returns the samples, the master's log, the master's and the
    worker's exit codes and the worker's log."""
    _TokenCheckingHandler.token = token
    server = ThreadingHTTPServer(("127.0.0.1", free_ports(1)[0]), _TokenCheckingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "token").write_text(token)
    plan = LoadPlan(
        base_url=base_url,
        endpoints=(Endpoint("health", "GET", "/health", 1, auth=True),),
        users=2,
        rate=20.0,
        timeout_seconds=2.0,
        samples_path=str(tmp_path / "samples.jsonl"),
        max_requests=10_000,
        token_path=str(tmp_path / "token"),
    )
    (tmp_path / "plan.json").write_text(plan.to_json())
    master = start_locust(
        tmp_path,
        plan_path=tmp_path / "plan.json",
        base_url=base_url,
        users=2,
        run_seconds=60,
        workers=0,
        external_workers=1,
        master_bind_host="127.0.0.1",
        start_timeout=30,
        env={},
        worker_key=WORKER_KEY,
    )
    assert master.master_port is not None
    locustfile = Path(sys.modules["drillbook"].__file__ or "").parent / "load" / "locustfile.py"
    worker_log = open(tmp_path / "hand-worker.log", "wb")  # noqa: SIM115
    environ = {k: v for k, v in os.environ.items() if k != WORKER_KEY_ENV}
    worker = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
         "--master-host", "127.0.0.1", "--master-port", str(master.master_port)],
        stdout=worker_log, stderr=subprocess.STDOUT, cwd=tmp_path, env={**environ, **worker_env},
    )  # fmt: skip
    try:
        samples_path = tmp_path / "samples.jsonl"
        deadline = time.monotonic() + wait
        lines: list[str] = []
        while time.monotonic() < deadline and len(lines) < want_lines:
            time.sleep(0.25)
            if samples_path.exists():
                lines = samples_path.read_text().splitlines()
        master_log = master.log_tail(200)
    finally:
        codes = master.stop()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
        worker_log.close()
        server.shutdown()
    return (
        lines,
        master_log,
        codes[0],
        worker.returncode,
        (tmp_path / "hand-worker.log").read_text(),
    )


def test_distributed_mode_master_and_a_worker_started_by_hand(tmp_path: Path) -> None:
    lines, master_log, master_code, worker_code, worker_log = _hand_worker_run(
        tmp_path, "distributed-test-token", {WORKER_KEY_ENV: WORKER_KEY}, want_lines=30, wait=45
    )
    assert len(lines) >= 30, master_log + worker_log
    samples = [json.loads(line) for line in lines]
    assert all(s["ok"] for s in samples), [s for s in samples if not s["ok"]][:3]
    assert {s["e"] for s in samples} == {"health"}
    assert master_code is not None, "the master did not stop"
    assert worker_code == 0, worker_log[-2000:]
    assert "refused" not in master_log


@pytest.mark.parametrize("key", ["", "a-guess-at-the-key"], ids=["no key", "wrong key"])
def test_a_worker_without_the_key_gets_neither_plan_nor_token(tmp_path: Path, key: str) -> None:
    token = "token-a-rogue-worker-must-not-get"
    worker_env = {WORKER_KEY_ENV: key} if key else {}
    # The master logs its refusal at once; a few seconds more show no request was made.
    lines, master_log, _, _, worker_log = _hand_worker_run(
        tmp_path, token, worker_env, want_lines=1, wait=8
    )
    assert "refused the plan and token to worker" in master_log, master_log + worker_log
    assert lines == [], lines[:3]
    assert token not in master_log and token not in worker_log
    assert WORKER_KEY not in master_log


def test_load_stops_by_itself_at_max_requests(tmp_path: Path) -> None:
    _TokenCheckingHandler.token = "count-bound-token"
    server = ThreadingHTTPServer(("127.0.0.1", free_ports(1)[0]), _TokenCheckingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "token").write_text("count-bound-token")
    plan = LoadPlan(
        base_url=base_url,
        endpoints=(Endpoint("health", "GET", "/health", 1, auth=True),),
        users=2,
        rate=40.0,
        timeout_seconds=2.0,
        samples_path=str(tmp_path / "samples.jsonl"),
        max_requests=15,
        token_path=str(tmp_path / "token"),
    )
    (tmp_path / "plan.json").write_text(plan.to_json())
    load = start_locust(
        tmp_path,
        plan_path=tmp_path / "plan.json",
        base_url=base_url,
        users=2,
        run_seconds=120,  # far beyond: the count must stop it
        workers=0,
        external_workers=0,
        master_bind_host="127.0.0.1",
        start_timeout=30,
        env={},
    )
    try:
        deadline = time.monotonic() + 60
        while load.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped_by_itself = not load.alive()
    finally:
        load.stop()
        server.shutdown()
    assert stopped_by_itself, load.log_tail()
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    # The bound is checked per recorded request; requests already in flight may finish.
    assert 15 <= len(lines) <= 15 + plan.users, len(lines)
    assert all(json.loads(line)["ok"] for line in lines)
