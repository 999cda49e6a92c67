"""The embedded local stack: real services (drillbook.stack.services) under one supervisord,
in a private run directory, on free loopback ports.

It is what a new user drills in minutes, and what drillbook's own integration tests run on.
Started once per test session (or reused across runs), and torn down completely: every process
it started is gone afterwards, which `pids()` lets a test check.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.config.model import DrillbookConfig
from drillbook.core.polling import poll_until
from drillbook.core.private_files import write_private
from drillbook.core.redaction import register_secret
from drillbook.embedded import require_embedded
from drillbook.errors import MissingDependency, StackError
from drillbook.platforms.local import LocalComponent, LocalPlatform
from drillbook.platforms.ports import free_ports
from drillbook.platforms.supervisor_client import SupervisorClient
from drillbook.stack.layout import Program, render_supervisord_conf
from drillbook.stack.probing import http_ok
from drillbook.stack.run_dir import give_back, take
from drillbook.stack.services import StackContext, StackService, default_services
from drillbook.stack.services.postgres import admin_dsn, database_dsn
from drillbook.stack.services.redis import redis_url, with_cache_addresses
from drillbook.stack.watchdog import process_start_ticks

_START_TIMEOUT_SECONDS = 60.0
_MANIFEST = "stack.json"
_SECRETS = "secrets.json"
_PORT_POOL = 40
"""Ports drawn up front; services take them by name as they are laid out."""


@dataclass
class LocalStack:
    """A running embedded stack and how to reach it."""

    run_dir: Path
    ports: dict[str, int]
    """Loopback ports by name: proxy, postgres, redis, app-0..app-N, and those of later services."""
    secrets: dict[str, str] = field(repr=False)
    supervisord_pid: int
    app_replicas: int
    max_app_replicas: int
    services: Sequence[StackService] = field(default_factory=default_services, repr=False)
    owned: bool = True
    """False when attached to a stack left running by an earlier run (stack reuse)."""
    app_ready_path: str = "/readyz"
    """What a replica's readiness is checked on (the stand-in's, or [stack.app] ready_path)."""
    proxy_ready_path: str = "/livez"
    """What the proxy's readiness is checked on: through it, any replica answering."""
    start_path: str = "/health"
    """What the stack's start waits for through the proxy."""
    app_stop_signal: str = "TERM"
    app_grace_seconds: float = 10.0
    """How a replica is asked to stop, and how long it may take before it is killed."""

    def port(self, name: str) -> int:
        try:
            return self.ports[name]
        except KeyError:
            raise StackError(
                f"the embedded stack has no port named {name!r}; it has {sorted(self.ports)}"
            ) from None

    @property
    def jwt_secret(self) -> str:
        return self.secrets["jwt"]

    @property
    def app_ports(self) -> list[int]:
        return [self.ports[f"app-{i}"] for i in range(self.max_app_replicas)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port('proxy')}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.app_ports]

    @property
    def database_dsn(self) -> str:
        return database_dsn(self.port("postgres"))

    @property
    def admin_dsn(self) -> str:
        return admin_dsn(self.port("postgres"))

    @property
    def redis_url(self) -> str:
        return redis_url(self.port("redis"))

    @property
    def supervisor(self) -> SupervisorClient:
        return SupervisorClient(str(self.run_dir / "supervisor.sock"))

    def platform(self) -> LocalPlatform:
        components: dict[str, LocalComponent] = {}
        for service in self.services:
            components.update(service.components(self))
        return LocalPlatform(self.supervisor, components)

    def component_names(self) -> list[str]:
        """The platform components this stack's services provide."""
        names: list[str] = []
        for service in self.services:
            names += list(service.components(self))
        return names

    def configure(self, config: DrillbookConfig) -> DrillbookConfig:
        """The configuration with the stack's address (and its cache's Sentinels) filled in."""
        return with_cache_addresses(config.with_base_url(self.base_url), self)

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
            client = self.supervisor
            # Every group told to stop at once: supervisord's shutdown alone stops one group
            # after the other (5.2 s for this stack, against 1-2 s for its slowest process).
            groups = {str(p["group"]) for p in client.processes() if p["pid"]}
            for group in sorted(groups):
                client.call("supervisor.stopProcessGroup", group, False)
            client.shutdown()
        leftovers = _wait_gone(known, timeout=20.0)
        for pid in leftovers:
            _kill_quietly(pid)
        _wait_gone(leftovers, timeout=5.0)
        if remove_run_dir:
            give_back(self.run_dir)
        return leftovers

    def write_manifest(self) -> None:
        manifest = {
            "ports": self.ports,
            "supervisord_pid": self.supervisord_pid,
            "app_replicas": self.app_replicas,
            "max_app_replicas": self.max_app_replicas,
            "app_ready_path": self.app_ready_path,
            "proxy_ready_path": self.proxy_ready_path,
            "start_path": self.start_path,
            "app_stop_signal": self.app_stop_signal,
            "app_grace_seconds": self.app_grace_seconds,
        }
        (self.run_dir / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        write_private(self.run_dir / _SECRETS, json.dumps(self.secrets))


def attach(run_dir: Path) -> LocalStack | None:
    """The stack an earlier run left in `run_dir`, if it is still alive (stack reuse)."""
    manifest_path = run_dir / _MANIFEST
    if not manifest_path.exists():
        return None
    require_embedded()
    manifest = json.loads(manifest_path.read_text())
    stack = LocalStack(
        run_dir=run_dir,
        ports={k: int(v) for k, v in manifest["ports"].items()},
        secrets=json.loads((run_dir / _SECRETS).read_text()),
        supervisord_pid=int(manifest["supervisord_pid"]),
        app_replicas=int(manifest["app_replicas"]),
        max_app_replicas=int(manifest["max_app_replicas"]),
        owned=False,
        app_ready_path=str(manifest.get("app_ready_path", "/readyz")),
        proxy_ready_path=str(manifest.get("proxy_ready_path", "/livez")),
        start_path=str(manifest.get("start_path", "/health")),
        app_stop_signal=str(manifest.get("app_stop_signal", "TERM")),
        app_grace_seconds=float(manifest.get("app_grace_seconds", 10.0)),
    )
    for value in stack.secrets.values():
        register_secret(value)
    if not stack.supervisor.alive():
        return None
    return stack


def start_stack(
    config: DrillbookConfig,
    *,
    run_dir: Path | None = None,
    services: Sequence[StackService] | None = None,
    ports: Mapping[str, int] | None = None,
    port_pool: Sequence[int] | None = None,
    initial_secrets: Mapping[str, str] | None = None,
    wait_healthy: bool = True,
) -> LocalStack:
    """Start a new embedded stack; on any failure, everything already started is stopped.

    A site of a two-site deployment (drillbook.sites) passes the other site's `ports` and
    `initial_secrets`, so that both sites answer on the same port numbers with the same
    secrets (a replica), and `wait_healthy=False` when its application is not started yet.
    """
    require_embedded()
    settings = config.stack
    chosen = list(services) if services is not None else default_services()
    supervisord = _supervisord_binary()
    created = False
    if run_dir is None:
        if settings.run_dir:
            run_dir = Path(settings.run_dir)
        else:
            run_dir, created = Path(tempfile.mkdtemp(prefix="drillbook-stack-")), True
    take(run_dir, created=created)
    (run_dir / "logs").mkdir(exist_ok=True)

    pool = list(port_pool) if port_pool is not None else free_ports(_PORT_POOL)
    taken: dict[str, int] = dict(ports or {})

    def take_port(name: str) -> int:
        if name not in taken:
            if not pool:
                raise StackError(f"ran out of reserved ports at {name!r}")
            taken[name] = pool.pop()
        return taken[name]

    ctx = StackContext(run_dir=run_dir, settings=settings, take_port=take_port, ports=taken)
    ctx.secrets.update(initial_secrets or {})
    ctx.secrets.setdefault("jwt", secrets.token_urlsafe(32))
    for value in ctx.secrets.values():
        register_secret(value)
    programs: list[Program] = []
    for service in chosen:
        programs += service.layout(ctx)
    for value in ctx.secrets.values():  # services may have generated more
        register_secret(value)

    conf = run_dir / "supervisord.conf"
    # The configuration carries secrets in the replicas' environment: owner-only.
    write_private(conf, render_supervisord_conf(run_dir, programs))
    with open(run_dir / "logs" / "supervisord.stdout", "ab") as out:
        process = subprocess.Popen(
            [str(supervisord), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C meant for pytest must not reach the stack before the
            # drill's undo and teardown have run.
            start_new_session=True,
        )
    stack = LocalStack(
        run_dir=run_dir,
        ports=taken,
        secrets=ctx.secrets,
        supervisord_pid=process.pid,
        app_replicas=settings.app_replicas,
        max_app_replicas=settings.max_app_replicas,
        services=chosen,
    )
    if settings.app.is_custom:
        path = settings.app.ready_path
        stack.app_ready_path = stack.proxy_ready_path = stack.start_path = path
        stack.app_stop_signal = settings.app.stop_signal
        # supervisord counts stopwaitsecs in whole seconds (drillbook.stack.layout).
        stack.app_grace_seconds = float(max(1, round(settings.app.grace_period_seconds)))
    try:
        _wait_for(stack.supervisor.alive, "supervisord to answer", process)
        _start_services(stack, chosen)
        if wait_healthy:
            _wait_for(
                lambda: http_ok(f"{stack.base_url}{stack.start_path}"),
                "the service to be healthy",
                process,
            )
        stack.write_manifest()
        if not settings.reuse:
            _start_watchdog(stack, remove_run_dir=settings.run_dir is None)
    except BaseException:
        stack.stop(remove_run_dir=settings.run_dir is None)
        raise
    return stack


def _start_services(stack: LocalStack, services: Sequence[StackService]) -> None:
    """Start the services in order; a run of services that need nothing but supervisord
    (`independent_start`) starts at once, each in its own thread (the data services: their
    start-ups are mostly waiting, and one after the other they took twice as long)."""
    pending = list(services)
    while pending:
        wave = [pending.pop(0)]
        while (
            wave
            and getattr(wave[0], "independent_start", False)
            and pending
            and getattr(pending[0], "independent_start", False)
        ):
            wave.append(pending.pop(0))
        if len(wave) == 1:
            wave[0].start(stack)
            continue
        with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="stack-start") as pool:
            futures = [pool.submit(service.start, stack) for service in wave]
        # Every start has finished (the pool waited); the first failure, in service order.
        for future in futures:
            future.result()


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


def _wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    def met() -> bool:
        if process.poll() is not None:
            raise StackError(f"supervisord exited ({process.returncode}) while waiting for {what}")
        try:
            return condition()
        except Exception:  # not up yet; the deadline decides
            return False

    poll_until(
        met,
        bool,
        timeout=_START_TIMEOUT_SECONDS,
        interval=0.05,
        give_up=lambda _: StackError(
            f"timed out after {_START_TIMEOUT_SECONDS:.0f}s waiting for {what}"
        ),
    )


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
    """The processes of `pids` still alive after up to `timeout` seconds."""
    return poll_until(
        lambda: [p for p in pids if _alive(p)],
        lambda alive: not alive,
        timeout=timeout,
        interval=0.05,
    )


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
