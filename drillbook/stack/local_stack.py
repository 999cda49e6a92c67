"""The embedded local stack: real PostgreSQL, Redis, reference service replicas and HAProxy
under one supervisord, in a private run directory, on free loopback ports.

It is what a new user drills in minutes, and what drillbook's own integration tests run on.
Started once per test session (or reused across runs), and torn down completely: every process
it started is gone afterwards, which `pids()` lets a test check.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from drillbook.config.model import DrillbookConfig
from drillbook.errors import MissingDependency, StackError
from drillbook.platforms.local import LocalComponent, LocalPlatform
from drillbook.platforms.supervisor_client import SupervisorClient
from drillbook.reporting.redaction import register_secret
from drillbook.stack.binaries import postgres_bin_dir, require_binary
from drillbook.stack.layout import (
    Program,
    StackPorts,
    app_command,
    render_haproxy_conf,
    render_supervisord_conf,
)
from drillbook.stack.ports import free_ports
from drillbook.stack.watchdog import process_start_ticks

DATABASE_NAME = "eleanor_v8"
DATABASE_USER = "eleanor"
_START_TIMEOUT_SECONDS = 60.0
_MANIFEST = "stack.json"


@dataclass
class LocalStack:
    """A running embedded stack and how to reach it."""

    run_dir: Path
    ports: StackPorts
    jwt_secret: str = field(repr=False)
    supervisord_pid: int
    app_replicas: int
    owned: bool = True
    """False when attached to a stack left running by an earlier run (stack reuse)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.proxy}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports.apps]

    @property
    def database_dsn(self) -> str:
        return f"postgresql://{DATABASE_USER}@127.0.0.1:{self.ports.postgres}/{DATABASE_NAME}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/postgres"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    @property
    def supervisor(self) -> SupervisorClient:
        return SupervisorClient(str(self.run_dir / "supervisor.sock"))

    def platform(self) -> LocalPlatform:
        return LocalPlatform(self.supervisor, self._components())

    def configure(self, config: DrillbookConfig) -> DrillbookConfig:
        """The configuration with the stack's address filled in."""
        return config.with_base_url(self.base_url)

    def _components(self) -> dict[str, LocalComponent]:
        app_names = [f"app-{i}" for i in range(len(self.ports.apps))]
        return {
            "app": LocalComponent(
                name="app",
                group="app",
                processes=app_names,
                desired=self.app_replicas,
                readiness={
                    name: _http_ready(f"http://127.0.0.1:{port}/livez")
                    for name, port in zip(app_names, self.ports.apps, strict=True)
                },
            ),
            "database": LocalComponent(
                name="database",
                group="postgres",
                processes=["postgres-0"],
                desired=1,
                readiness={"postgres-0": _postgres_ready(self.admin_dsn)},
            ),
            "cache": LocalComponent(
                name="cache",
                group="redis",
                processes=["redis-0"],
                desired=1,
                readiness={"redis-0": _redis_ready(self.redis_url)},
            ),
            "proxy": LocalComponent(
                name="proxy",
                group="proxy",
                processes=["haproxy-0"],
                desired=1,
                readiness={"haproxy-0": _http_ready(f"{self.base_url}/livez")},
            ),
        }

    def pids(self) -> list[int]:
        """supervisord and every process it runs now."""
        pids = [self.supervisord_pid]
        with contextlib.suppress(StackError):
            pids += [int(p["pid"]) for p in self.supervisor.processes() if p["pid"]]
        return pids

    def stop(self, *, remove_run_dir: bool = True) -> list[int]:
        """Stop everything; returns PIDs that had to be killed (none when shutdown was clean)."""
        known = self.pids()
        with contextlib.suppress(StackError):
            self.supervisor.shutdown()
        leftovers = _wait_gone(known, timeout=20.0)
        for pid in leftovers:
            _kill_quietly(pid)
        _wait_gone(leftovers, timeout=5.0)
        if remove_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return leftovers

    def write_manifest(self) -> None:
        manifest = {
            "ports": {
                "proxy": self.ports.proxy,
                "postgres": self.ports.postgres,
                "redis": self.ports.redis,
                "apps": list(self.ports.apps),
            },
            "supervisord_pid": self.supervisord_pid,
            "app_replicas": self.app_replicas,
        }
        (self.run_dir / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        secret_file = self.run_dir / "jwt-secret"
        secret_file.write_text(self.jwt_secret)
        secret_file.chmod(0o600)


def attach(run_dir: Path) -> LocalStack | None:
    """The stack an earlier run left in `run_dir`, if it is still alive (stack reuse)."""
    manifest_path = run_dir / _MANIFEST
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    ports = manifest["ports"]
    stack = LocalStack(
        run_dir=run_dir,
        ports=StackPorts(
            proxy=ports["proxy"],
            postgres=ports["postgres"],
            redis=ports["redis"],
            apps=tuple(ports["apps"]),
        ),
        jwt_secret=(run_dir / "jwt-secret").read_text(),
        supervisord_pid=int(manifest["supervisord_pid"]),
        app_replicas=int(manifest["app_replicas"]),
        owned=False,
    )
    register_secret(stack.jwt_secret)
    if not stack.supervisor.alive():
        return None
    return stack


def start_stack(config: DrillbookConfig, *, run_dir: Path | None = None) -> LocalStack:
    """Start a new embedded stack; on any failure, everything already started is stopped."""
    settings = config.stack
    pg_bin = postgres_bin_dir(settings.postgres_bin_dir)
    haproxy = require_binary("haproxy")
    redis_server = require_binary("redis-server")
    supervisord = _supervisord_binary()

    if run_dir is None:
        run_dir = (
            Path(settings.run_dir)
            if settings.run_dir
            else Path(tempfile.mkdtemp(prefix="drillbook-stack-"))
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    # Traversable (not listable) by the postgres user, which owns its data directory below.
    run_dir.chmod(0o711)
    (run_dir / "logs").mkdir(exist_ok=True)

    port_list = free_ports(3 + settings.max_app_replicas)
    ports = StackPorts(
        proxy=port_list[0], postgres=port_list[1], redis=port_list[2], apps=tuple(port_list[3:])
    )
    jwt_secret = secrets.token_urlsafe(32)
    register_secret(jwt_secret)

    pg_user = _init_postgres(pg_bin, run_dir)
    (run_dir / "redis").mkdir(exist_ok=True)
    (run_dir / "haproxy.cfg").write_text(render_haproxy_conf(ports))

    programs = [
        Program(
            group="postgres",
            name="postgres-0",
            command=[
                str(pg_bin / "postgres"),
                "-D",
                str(run_dir / "pgdata"),
                "-p",
                str(ports.postgres),
                "-k",
                str(run_dir / "pgsocket"),
                "-c",
                "listen_addresses=127.0.0.1",
            ],
            user=pg_user,
            # SIGINT is PostgreSQL's "fast shutdown": quick and clean for teardown.
            stopsignal="INT",
        ),
        Program(
            group="redis",
            name="redis-0",
            command=[
                str(redis_server),
                "--port",
                str(ports.redis),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(run_dir / "redis"),
            ],
        ),
    ]
    database_url = f"postgresql://{DATABASE_USER}@127.0.0.1:{ports.postgres}/{DATABASE_NAME}"
    for index, port in enumerate(ports.apps):
        programs.append(
            Program(
                group="app",
                name=f"app-{index}",
                command=app_command(port),
                environment={
                    "ELEANOR_DATABASE_URL": database_url,
                    "ELEANOR_CACHE__REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
                    "JWT_SECRET": jwt_secret,
                    "ELEANOR_REPLICA": f"app-{index}",
                    "PYTHONUNBUFFERED": "1",
                },
            )
        )
    programs.append(
        Program(
            group="proxy",
            name="haproxy-0",
            command=[str(haproxy), "-f", str(run_dir / "haproxy.cfg"), "-db"],
            stopsignal="USR1",
        )
    )
    conf = run_dir / "supervisord.conf"
    conf.write_text(render_supervisord_conf(run_dir, programs))
    # The configuration carries the JWT secret in the replicas' environment.
    conf.chmod(0o600)

    process = subprocess.Popen(
        [str(supervisord), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=open(run_dir / "logs" / "supervisord.stdout", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        # Own session: a Ctrl-C meant for pytest must not reach the stack before the drill's
        # undo and teardown have run.
        start_new_session=True,
    )
    stack = LocalStack(
        run_dir=run_dir,
        ports=ports,
        jwt_secret=jwt_secret,
        supervisord_pid=process.pid,
        app_replicas=settings.app_replicas,
    )
    try:
        _wait_for(lambda: stack.supervisor.alive(), "supervisord to answer", process)
        platform = stack.platform()
        platform.start("database")
        platform.wait_until_ready("database", timeout=_START_TIMEOUT_SECONDS)
        _create_database(stack.admin_dsn)
        platform.start("cache")
        platform.wait_until_ready("cache", timeout=_START_TIMEOUT_SECONDS)
        platform.start("app")
        platform.wait_until_ready("app", timeout=_START_TIMEOUT_SECONDS)
        platform.start("proxy")
        platform.wait_until_ready("proxy", timeout=_START_TIMEOUT_SECONDS)
        _wait_for(
            lambda: _http_ok(f"{stack.base_url}/health"), "the service to be healthy", process
        )
        stack.write_manifest()
        if not settings.reuse:
            _start_watchdog(stack, remove_run_dir=settings.run_dir is None)
    except BaseException:
        stack.stop(remove_run_dir=settings.run_dir is None)
        raise
    return stack


def _start_watchdog(stack: LocalStack, *, remove_run_dir: bool) -> None:
    owner = os.getpid()
    owner_start = process_start_ticks(owner)
    if owner_start is None:  # no /proc: no watchdog, the stack is stopped by teardown only
        return
    args = [
        sys.executable,
        "-m",
        "drillbook.stack.watchdog",
        str(owner),
        str(owner_start),
        str(stack.supervisord_pid),
        str(stack.run_dir),
    ]
    if remove_run_dir:
        args.append("--remove")
    subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _supervisord_binary() -> Path:
    candidate = Path(sys.executable).parent / "supervisord"
    if candidate.exists():
        return candidate
    found = shutil.which("supervisord")
    if found is None:
        raise MissingDependency("'supervisord' not found; install it: pip install supervisor")
    return Path(found)


def _init_postgres(pg_bin: Path, run_dir: Path) -> str | None:
    """initdb a private cluster; returns the user the server must run as (None: ourselves)."""
    data = run_dir / "pgdata"
    sockets = run_dir / "pgsocket"
    sockets.mkdir(exist_ok=True)
    user: str | None = None
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root.
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise MissingDependency(
                "running as root, PostgreSQL must run as the 'postgres' user, which does not "
                "exist; install the postgresql package (it creates the user) or run as non-root"
            ) from None
        _require_traversable(run_dir, entry.pw_uid, entry.pw_gid)
        os.chown(sockets, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    if (data / "PG_VERSION").exists():
        return user
    data.mkdir(exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o700)
    result = subprocess.run(
        [
            *prefix,
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"initdb failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    return user


def _require_traversable(run_dir: Path, uid: int, gid: int) -> None:
    """The postgres user must reach its data directory through every parent of the run dir."""
    for directory in [run_dir, *run_dir.parents]:
        mode = directory.stat()
        owner_ok = mode.st_uid == uid and mode.st_mode & 0o100
        group_ok = mode.st_gid == gid and mode.st_mode & 0o010
        if not (owner_ok or group_ok or mode.st_mode & 0o001):
            raise StackError(
                f"the stack's run directory {run_dir} is not reachable by the 'postgres' user: "
                f"{directory} has mode {oct(mode.st_mode & 0o777)}; choose a run directory "
                "whose parents are traversable (e.g. under /tmp), or omit stack.run_dir"
            )


def _create_database(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DATABASE_USER,))
        if exists.fetchone() is None:
            conn.execute(f"CREATE ROLE {DATABASE_USER} LOGIN")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
        if exists.fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE_NAME} OWNER {DATABASE_USER}")


def _wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"supervisord exited ({process.returncode}) while waiting for {what}")
        try:
            if condition():
                return
        except Exception:  # not up yet; the deadline decides
            pass
        time.sleep(0.05)
    raise StackError(f"timed out after {_START_TIMEOUT_SECONDS:.0f}s waiting for {what}")


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _http_ready(url: str) -> Callable[[], bool]:
    return lambda: _http_ok(url)


def _postgres_ready(dsn: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with psycopg.connect(dsn, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    return check


def _redis_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    return check


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purpose once its parent reaps it.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process is running (zombies count as gone)."""
    return _alive(pid)


def _wait_gone(pids: list[int], *, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    remaining = [p for p in pids if _alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [p for p in remaining if _alive(p)]
    return remaining


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
