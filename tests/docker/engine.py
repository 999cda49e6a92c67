"""The Docker engine and the reference Compose project, for the Docker tests: started or
found once per session (tests/docker/conftest.py), and what the engine holds, to compare
before and after the session."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose" / "docker-compose.yaml"
CONFIG = ROOT / "configs" / "compose.toml"
PROJECT = "eleanor"
"""The project configs/compose.toml drills (docker.project)."""
FRONT_DOOR = "http://127.0.0.1:17080"
EVIDENCE_DSN = "postgresql://eleanor@127.0.0.1:17432/eleanor_v8"
UP_TIMEOUT_SECONDS = 600.0
BUILD_TIMEOUT_SECONDS = 1500.0


class EngineUnavailable(Exception):
    """scripts/docker-up.sh could not make an engine answer; the message says why."""


def run_script(name: str, *, timeout: float) -> str:
    """Run scripts/NAME; its stderr (the script's own lines) is the failure message."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / name)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-8:])
        raise EngineUnavailable(f"scripts/{name} failed (exit {result.returncode}): {tail}")
    return result.stderr


def docker(*args: str, timeout: float = 120.0, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.strip()[-600:]}")
    return result.stdout


def compose(*args: str, timeout: float = 300.0, env: dict[str, str] | None = None) -> str:
    return docker(
        "compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), *args, timeout=timeout, env=env
    )


@dataclass(frozen=True)
class EngineState:
    """What `docker ps -a`, `docker network ls` and `docker volume ls` list."""

    containers: frozenset[str]
    networks: frozenset[str]
    volumes: frozenset[str]

    @classmethod
    def now(cls) -> EngineState:
        def lines(*args: str) -> frozenset[str]:
            return frozenset(line for line in docker(*args).splitlines() if line.strip())

        return cls(
            containers=lines("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}}"),
            networks=lines("network", "ls", "--format", "{{.ID}} {{.Name}}"),
            volumes=lines("volume", "ls", "--format", "{{.Name}}"),
        )

    def differences(self, later: EngineState) -> list[str]:
        found = []
        for what in ("containers", "networks", "volumes"):
            before, after = getattr(self, what), getattr(later, what)
            if after - before:
                found.append(f"{what} left: {sorted(after - before)}")
            if before - after:
                found.append(f"{what} gone: {sorted(before - after)}")
        return found


def project_containers() -> dict[str, str]:
    """The project's containers by name, with their state ("running", "exited", ...)."""
    out = docker(
        "ps",
        "-a",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
        "--format",
        "{{.Names}} {{.State}}",
    )
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def wait_for(condition: object, *, timeout: float, what: str, every: float = 0.25) -> float:
    """Poll `condition()` until true; the seconds it took, or AssertionError naming `what`."""
    assert callable(condition)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")
