"""Two callers starting the same process at once, against a real supervisord.

An abort's undo and the runbook's recovery step may both start a replica: the second used to
fail with ALREADY_STARTED and the undo was reported as failed (seen in CI, stop 24)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.errors import StackError
from drillbook.platforms.supervisor_client import SupervisorClient

_CONF = """\
[unix_http_server]
file = {socket}

[supervisord]
nodaemon = true
logfile = {dir}/supervisord.log
pidfile = {dir}/supervisord.pid

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:sleeper]
command = {python} -c "import time; time.sleep(600)"
autostart = false
autorestart = false
startsecs = 2
stopsignal = KILL

[program:crasher]
command = {python} -c "raise SystemExit(3)"
autostart = false
autorestart = false
startsecs = 2
startretries = 0
"""


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[SupervisorClient]:
    supervisord = Path(sys.executable).with_name("supervisord")
    if not supervisord.exists():
        found = shutil.which("supervisord")
        assert found, "supervisord is missing: pip install -e '.[embedded]'"
        supervisord = Path(found)
    # A short socket path: unix sockets are limited to about 100 bytes.
    socket = Path(f"/tmp/drillbook-sv-{tmp_path.name[-20:]}.sock")
    conf = tmp_path / "supervisord.conf"
    conf.write_text(_CONF.format(socket=socket, dir=tmp_path, python=sys.executable))
    daemon = subprocess.Popen([str(supervisord), "-c", str(conf)])
    client = SupervisorClient(str(socket))
    try:
        deadline = time.monotonic() + 20
        while not client.alive():
            assert daemon.poll() is None, "supervisord exited at start"
            assert time.monotonic() < deadline, "supervisord did not answer in 20 s"
            time.sleep(0.05)
        yield client
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        socket.unlink(missing_ok=True)


def test_two_callers_starting_one_process_both_succeed(supervisor: SupervisorClient) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            supervisor.start("sleeper")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    first = threading.Thread(target=start)
    first.start()
    # The first start holds the process in STARTING for its startsecs (2 s).
    deadline = time.monotonic() + 10
    while supervisor.process("sleeper")["statename"] != "STARTING":
        assert time.monotonic() < deadline, supervisor.process("sleeper")
        time.sleep(0.02)
    start()
    first.join(timeout=30)
    assert errors == []
    assert supervisor.process("sleeper")["statename"] == "RUNNING"


def test_starting_a_running_process_again_is_a_no_op(supervisor: SupervisorClient) -> None:
    supervisor.start("sleeper")
    pid = supervisor.process("sleeper")["pid"]
    supervisor.start("sleeper")
    assert supervisor.process("sleeper")["pid"] == pid


def test_a_process_that_cannot_start_is_still_an_error(supervisor: SupervisorClient) -> None:
    with pytest.raises(StackError, match="crasher"):
        supervisor.start("crasher")
