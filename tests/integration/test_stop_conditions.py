"""Stop conditions on the embedded stack: an alarm of the team's monitoring fires, or someone
runs `drillbook halt`, while a drill has every application replica down. The drill aborts
within one probe interval, its fault is undone at once, it is reported "aborted", and the
stack is whole afterwards (checked through its proxy, then stopped)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from drillbook.config.loader import _read_embedded
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

DRILL = "all_replicas"
PROBE_INTERVAL = 0.25


class Alarm:
    """An alerting endpoint the test controls: {"state": "ok"} until armed, then "firing"."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.first_firing_wall: float | None = None
        alarm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state = "firing" if alarm.armed.is_set() else "ok"
                if state == "firing" and alarm.first_firing_wall is None:
                    alarm.first_firing_wall = time.time()
                body = json.dumps({"state": state}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alarm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-stop-stack-"))
    try:
        yield run_dir
    finally:
        subprocess.run(
            [sys.executable, "-m", "drillbook.cli", "stack", "down", "--run-dir", str(run_dir)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(run_dir, ignore_errors=True)


def _start(config: Path, stack_dir: Path, runs: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "drills/monthly/test_application_failure.py",
            "-k",
            DRILL,
            "--drillbook-config",
            str(config),
            "--drillbook-run-dir",
            str(stack_dir),
            "--drillbook-reuse-stack",
            "--drillbook-runs-dir",
            str(runs),
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_fault(run: subprocess.Popen[str], stack_dir: Path) -> None:
    journal = stack_dir / "undo-journal.jsonl"
    deadline = time.monotonic() + 300
    while not (journal.exists() and '"state": "pending"' in journal.read_text()):
        assert run.poll() is None, run.communicate()[0][-4000:]
        assert time.monotonic() < deadline, "the drill never injected its fault"
        time.sleep(0.05)


def _aborted_record(run: subprocess.Popen[str], runs: Path) -> dict[str, Any]:
    output, _ = run.communicate(timeout=600)
    assert run.returncode != 0, output[-3000:]
    assert "drill aborted by a stop condition" in output, output[-3000:]
    document = json.loads((runs / "latest.json").read_text())
    (record,) = document["drills"]
    assert record["outcome"] == "aborted", record["outcome"]
    assert record["failure_kind"] == "DrillAborted"
    assert record["stop"] is not None
    # The abort's message lists each undo and how it went: every one ok.
    undone = record["failure"].partition("its fault was undone at once: ")[2]
    assert undone.endswith("(ok)") and undone.count("(") == undone.count("(ok)"), undone
    return dict(record)


def _stack_is_whole(stack_dir: Path) -> None:
    manifest = json.loads((stack_dir / "stack.json").read_text())
    proxy = manifest["ports"]["proxy"]
    deadline = time.monotonic() + 60
    while True:
        # The undo restarts the replicas; until the proxy's own health checks see one up, the
        # proxy answers with its HTML 503 page, which is "not whole yet", not an error.
        response = httpx.get(f"http://127.0.0.1:{proxy}/health", timeout=2)
        answer: Any = response.text
        if response.headers.get("content-type", "").startswith("application/json"):
            answer = response.json()
            if answer.get("status") == "healthy":
                break
        assert time.monotonic() < deadline, (response.status_code, answer)
        time.sleep(0.25)
    journal = (stack_dir / "undo-journal.jsonl").read_text().splitlines()
    pending = {json.loads(line)["id"] for line in journal if '"pending"' in line}
    done = {json.loads(line)["id"] for line in journal if '"done"' in line}
    assert pending <= done, "an undo is still pending"


def test_an_alarm_firing_aborts_the_drill_and_undoes_its_fault(
    tmp_path: Path, stack_dir: Path
) -> None:
    alarm = Alarm()
    try:
        config = tmp_path / "alarmed.toml"
        config.write_text(
            _read_embedded()
            + f'\n[[stop.alarms]]\nname = "errors"\nurl = "{alarm.url}"\n'
            + "conditions = ['state == \"firing\"']\n",
            encoding="utf-8",
        )
        run = _start(config, stack_dir, tmp_path / "runs")
        _wait_for_fault(run, stack_dir)
        alarm.armed.set()
        record = _aborted_record(run, tmp_path / "runs")
    finally:
        alarm.close()
    stop = record["stop"]
    assert stop["reason"].startswith("alarm errors firing"), stop
    assert alarm.first_firing_wall is not None
    # Seen at the watch's next poll: within one probe interval of the alarm's first "firing".
    noticed = stop["fired_wall"] - alarm.first_firing_wall
    print(f"alarm to abort: {noticed:.3f} s; fault undone in {stop['undone_seconds']:.2f} s")
    assert -0.05 <= noticed <= PROBE_INTERVAL + 0.1, noticed
    assert stop["fired_after_fault_seconds"] is not None
    _stack_is_whole(stack_dir)


def test_drillbook_halt_stops_the_drill_from_another_shell(tmp_path: Path, stack_dir: Path) -> None:
    config = tmp_path / "plain.toml"
    config.write_text(_read_embedded(), encoding="utf-8")
    run = _start(config, stack_dir, tmp_path / "runs")
    _wait_for_fault(run, stack_dir)
    halted = subprocess.run(
        [sys.executable, "-m", "drillbook.cli", "halt", "--run-dir", str(stack_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    record = _aborted_record(run, tmp_path / "runs")
    assert halted.returncode == 0, halted.stdout + halted.stderr
    assert "stopped, its faults undone" in halted.stdout, halted.stdout
    assert record["stop"]["reason"].startswith("halted: pid "), record["stop"]
    _stack_is_whole(stack_dir)
