"""The `docker compose` CLI, for the one verb that needs Compose's own semantics: scaling a
service (`docker compose up -d --scale`), which creates or removes containers from the project's
file. Everything else goes through the engine's API (drillbook.platforms.docker)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from drillbook.errors import FaultFailed, MissingDependency

SCALE_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ComposeProject:
    """A Compose project as `docker compose` addresses it: its name, its file(s), the folder
    relative paths in them are taken from."""

    name: str
    files: tuple[str, ...]
    workdir: str | None = None
    host: str | None = None
    """The engine (docker.host); None: the CLI's own default ($DOCKER_HOST, the socket)."""

    def command(self, *args: str) -> list[str]:
        docker = shutil.which("docker")
        if docker is None:
            raise MissingDependency(
                "the `docker` CLI with its compose plugin is needed to scale a Compose "
                "service; install docker.io (bash scripts/docker-up.sh does, and builds the "
                "plugin) and run again"
            )
        files = [part for f in self.files for part in ("-f", f)]
        return [docker, "compose", "-p", self.name, *files, *args]

    def scale(self, service: str, replicas: int) -> None:
        """`docker compose up -d --no-deps --no-recreate --scale SERVICE=N SERVICE`: the
        existing containers are kept as they are (a fault is not undone by recreating what
        it did not touch), missing ones created, extra ones removed."""
        self.run(
            ("up", "-d", "--no-deps", "--no-recreate", "--scale", f"{service}={replicas}", service),
            timeout=SCALE_TIMEOUT_SECONDS,
            what=f"scale {self.name}/{service} to {replicas}",
        )

    def run(self, args: tuple[str, ...], *, timeout: float, what: str) -> None:
        """`docker compose ARGS` on this project, bounded; FaultFailed naming `what` (and the
        CLI's last words) when it fails or takes longer than `timeout` seconds."""
        env = dict(os.environ)
        if self.host:
            env["DOCKER_HOST"] = self.host
        try:
            result = subprocess.run(
                self.command(*args),
                cwd=self.workdir or None,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FaultFailed(f"docker compose did not {what} within {timeout:.0f}s") from None
        if result.returncode != 0:
            tail = " ".join(result.stderr.strip().splitlines()[-3:])
            raise FaultFailed(f"docker compose could not {what} (exit {result.returncode}): {tail}")


def project_of(labels: dict[str, str], name: str, compose_file: str | None) -> ComposeProject:
    """The project as its containers' labels describe it, the configured file first."""
    workdir = labels.get("com.docker.compose.project.working_dir")
    if compose_file:
        files: tuple[str, ...] = (str(Path(compose_file).resolve()),)
    else:
        listed = labels.get("com.docker.compose.project.config_files", "")
        files = tuple(f for f in listed.split(",") if f)
    return ComposeProject(name=name, files=files, workdir=workdir)
