"""Starts and stops the Locust processes of one drill's load.

Locust runs in processes of its own, never inside the drill process: it patches the process
with gevent when imported, and if urllib3 (boto3, kubernetes, requests, hvac) was imported
first, `import locust` dies with RecursionError. Its own processes also keep its pytest plugin
and its greenlets away from the test run.

One process (`workers = 0`), or a master and N workers on this machine (distributed mode, as a
user whose target needs more than one machine's load would run it, plus `external_workers`
started by hand elsewhere). Bounded in time (`--run-time`), in requests (the locustfile stops at
`max_requests`) and by the drill's own life (the locustfile stops when the drill process is gone).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.errors import InvalidDrill, MissingDependency
from drillbook.load.plan import PARENT_ENV, PLAN_ENV, WORKER_KEY_ENV
from drillbook.platforms.ports import free_ports

_STOP_TIMEOUT_SECONDS = 10.0


class LoadNotStarted(InvalidDrill):
    """The load could not be started before the fault (nothing was injected)."""


def _locustfile() -> Path:
    # The file's path only: importing the module here would import locust (see above).
    spec = importlib.util.find_spec("drillbook.load.locustfile")
    if spec is None or spec.origin is None:
        raise MissingDependency("drillbook.load.locustfile is missing; reinstall drillbook")
    return Path(spec.origin)


def _require_locust() -> None:
    if importlib.util.find_spec("locust") is None:
        raise MissingDependency("Locust is not installed; install it: pip install locust")


@dataclass
class LocustProcesses:
    """The running Locust processes of one drill."""

    directory: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    master_port: int | None = None

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.processes)

    def stop(self, timeout: float = _STOP_TIMEOUT_SECONDS) -> list[int | None]:
        """SIGTERM (Locust stops its users and exits), then SIGKILL what is still running."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(5.0)
        return [p.returncode for p in self.processes]

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for log in self.logs:
            if log.exists():
                text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"== {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


def start_locust(
    directory: Path,
    *,
    plan_path: Path,
    base_url: str,
    users: int,
    run_seconds: float,
    workers: int,
    external_workers: int,
    master_bind_host: str,
    start_timeout: float,
    env: Mapping[str, str],
    master_port: int = 0,
    worker_key: str | None = None,
) -> LocustProcesses:
    """Start Locust headless with the drill's plan; returns at once (see `LoadCompanion`).
    `worker_key` is what workers on other machines must prove to get the plan and token."""
    _require_locust()
    locustfile = str(_locustfile())
    environ = {
        **inherited_environment(),
        **env,
        PLAN_ENV: str(plan_path),
        PARENT_ENV: str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }
    if worker_key:
        environ[WORKER_KEY_ENV] = worker_key
    common = [sys.executable, "-m", "locust", "-f", locustfile, "--loglevel", "WARNING"]
    run = [
        "--headless",
        "--only-summary",
        "--users",
        str(users),
        # All users at once: the baseline starts when the load is complete.
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{max(1, math.ceil(run_seconds))}s",
        "--host",
        base_url,
    ]
    started = LocustProcesses(directory)
    if workers == 0 and external_workers == 0:
        started.processes.append(_spawn([*common, *run], directory / "locust.log", environ))
        started.logs.append(directory / "locust.log")
        return started
    port = master_port or free_ports(1)[0]
    started.master_port = port
    master = [
        *common,
        *run,
        "--master",
        "--master-bind-host",
        master_bind_host,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(workers + external_workers),
        "--expect-workers-max-wait",
        str(max(1, math.ceil(start_timeout))),
    ]
    try:
        started.processes.append(_spawn(master, directory / "locust-master.log", environ))
        started.logs.append(directory / "locust-master.log")
        connect_host = "127.0.0.1" if master_bind_host in ("*", "0.0.0.0") else master_bind_host
        for index in range(workers):
            worker = [
                *common,
                "--worker",
                "--master-host",
                connect_host,
                "--master-port",
                str(port),
            ]
            log = directory / f"locust-worker-{index}.log"
            started.processes.append(_spawn(worker, log, environ))
            started.logs.append(log)
    except BaseException:
        started.stop()
        raise
    return started


INHERITED = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "TZ",
        "TMPDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
    }
)
"""What Locust's processes inherit from the runner's environment, besides LC_* and what the
load hands them itself (the plan file, the token file): a runner's environment holds secrets
(ELEANOR_JWT_SECRET, DSNs, cloud credentials) Locust has no use for."""


def inherited_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in INHERITED or name.startswith("LC_")
    }


def _spawn(args: list[str], log: Path, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(environ),
            cwd=log.parent,
        )
