"""Reaching the Docker engine: the `docker` SDK's client, or one message saying what to do.

The SDK is the `docker` extra (`pip install 'drillbook[docker]'`); the engine is whatever
answers at docker.host, $DOCKER_HOST or the default socket. Neither being there is a
configuration problem the user fixes before a drill, never a red drill.
"""

from __future__ import annotations

import os
from typing import Any

from drillbook.errors import MissingDependency, TargetUnreachable

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
START_HINT = (
    "start an engine (on Debian: `bash scripts/docker-up.sh`, which installs docker.io when "
    "missing and starts dockerd in the background), or point docker.host / $DOCKER_HOST at one"
)


def engine_address(host: str | None) -> str:
    """Where the client connects: docker.host, else $DOCKER_HOST, else the default socket."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(host: str | None, *, timeout: float) -> Any:
    """A `docker.DockerClient` that has answered a ping; TargetUnreachable naming the socket
    and how to start an engine when none answers."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise MissingDependency(
            "platform 'docker' needs the Docker SDK for Python: pip install 'drillbook[docker]'"
        ) from None
    address = engine_address(host)
    try:
        client = docker.DockerClient(base_url=address, timeout=int(max(1, timeout)))
        client.ping()
    except docker.errors.DockerException as exc:
        raise TargetUnreachable(_unreachable(address, exc)) from None
    except OSError as exc:  # requests' ConnectionError is an OSError
        raise TargetUnreachable(_unreachable(address, exc)) from None
    return client


def _unreachable(address: str, exc: BaseException) -> str:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    socket = address.removeprefix("unix://")
    missing = address.startswith("unix://") and not os.path.exists(socket)
    where = f"socket {socket} does not exist" if missing else reason
    return f"no Docker engine answers at {address} ({where}); {START_HINT}"
