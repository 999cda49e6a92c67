"""The files of an embedded stack: supervisord and HAProxy configuration, rendered from ports.

Kept apart from the launcher so the generated configuration can be read and tested on its own.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from drillbook.stack.haproxy_runtime import BACKEND


@dataclass(frozen=True)
class Program:
    """One supervisord program."""

    group: str
    name: str
    command: list[str]
    user: str | None = None
    environment: Mapping[str, str] | None = None
    stopsignal: str = "TERM"
    stopwaitsecs: float = 10.0
    """How long a stop waits after `stopsignal` before SIGKILL (a pod's grace period)."""
    directory: str | None = None


def _env_value(value: str) -> str:
    # supervisord's environment syntax: KEY="value" with % doubled (it expands %(x)s).
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def render_supervisord_conf(run_dir: Path, programs: list[Program]) -> str:
    lines = [
        "[unix_http_server]",
        f"file={run_dir / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={run_dir / 'logs' / 'supervisord.log'}",
        f"pidfile={run_dir / 'supervisord.pid'}",
        f"childlogdir={run_dir / 'logs'}",
        "nodaemon=true",
        "loglevel=info",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{run_dir / 'supervisor.sock'}",
        "",
    ]
    groups: dict[str, list[str]] = {}
    for program in programs:
        groups.setdefault(program.group, []).append(program.name)
        lines += [
            f"[program:{program.name}]",
            "command=" + " ".join(shlex.quote(part) for part in program.command).replace("%", "%%"),
            # Faults must stay injected until the runbook recovers them: no self-healing.
            "autostart=false",
            "autorestart=false",
            "startsecs=0",
            "startretries=0",
            f"stopsignal={program.stopsignal}",
            f"stopwaitsecs={max(1, round(program.stopwaitsecs))}",
            "stopasgroup=true",
            "killasgroup=true",
            f"stdout_logfile={run_dir / 'logs' / (program.name + '.out.log')}",
            f"stderr_logfile={run_dir / 'logs' / (program.name + '.err.log')}",
            "stdout_logfile_maxbytes=5MB",
            "stderr_logfile_maxbytes=5MB",
        ]
        if program.user:
            lines.append(f"user={program.user}")
        if program.directory:
            lines.append(f"directory={program.directory.replace('%', '%%')}")
        if program.environment:
            env = ",".join(f"{k}={_env_value(v)}" for k, v in program.environment.items())
            lines.append(f"environment={env}")
        lines.append("")
    for group, names in groups.items():
        lines += [f"[group:{group}]", "programs=" + ",".join(names), ""]
    return "\n".join(lines)


def render_haproxy_conf(
    port: int,
    app_ports: Sequence[int],
    *,
    stats_socket: Path | None = None,
    check_path: str = "/readyz",
) -> str:
    servers = "\n".join(
        f"    server app-{i} 127.0.0.1:{app_port} check" for i, app_port in enumerate(app_ports)
    )
    # Read-only runtime API: a rolling restart asks it whether a replica is back in rotation
    # (drillbook.stack.haproxy_runtime) before it takes the next one down.
    stats = f"\n    stats socket {stats_socket} mode 600 level user" if stats_socket else ""
    # Health checks on /readyz every 250 ms mark a dead replica down after two misses; retries
    # with redispatch move a request that hit a dead replica to a live one, as a Kubernetes
    # Service with readiness probes would (a single replica loss is then invisible to users).
    # A GET or HEAD sent over a reused idle connection to a replica that was just killed gets
    # no response at all; without an L7 retry HAProxy closes the client's connection and
    # leaves the retry to the client (RFC 9112 9.3.1), which browsers do and httpx (our
    # probe) does not. An ingress retries such idempotent requests on another pod (nginx's
    # proxy_next_upstream default), so the embedded proxy does too; writes are never retried
    # (a POST may have been applied), so a write lost with a replica still counts against RPO.
    # The access log (stdout, logs/haproxy-0.out.log) lets a failed drill show which request
    # went where.
    # /readyz is /livez plus "holds its JWT secret" and "has reached its database once": a
    # replica that can authenticate nobody (its secrets provider failing), or one just started
    # whose first database connection has not succeeded yet, takes no traffic, so a rollout of
    # the fix is not a flap.
    return f"""global
    maxconn 512{stats}
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 500ms
    timeout client 30s
    timeout server 30s
    timeout check 500ms
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response
    default-server inter 250ms fall 2 rise 1

frontend eleanor
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET {check_path}
    http-request disable-l7-retry unless METH_GET
{servers}
"""
