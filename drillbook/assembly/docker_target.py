"""The target of a drill on platform `docker`: the containers of a Compose project on a Docker
engine.

Called by `drillbook.assembly.target.open_target`. It connects to the engine (one message with
the socket and how to start one when none answers), takes the project's lock (one run per
project and engine on this machine), replays the undos a dead run left pending in the project's
journal, and checks that every configured service has containers to drill.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.engine.lock import TargetLock
from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import PROJECT_LABEL, DockerComponent, DockerPlatform
from drillbook.platforms.docker_compose import ComposeProject, project_of
from drillbook.platforms.docker_engine import connect, engine_address
from drillbook.probes.auth import TokenProvider
from drillbook.target import Target


def journal_root() -> Path:
    """Where the Docker undo journals (and their locks) of this machine are."""
    cache = os.environ.get("DRILLBOOK_CACHE") or Path.home() / ".cache" / "drillbook"
    return Path(cache) / "undo" / "docker"


def journal_path(project: str, engine: str, root: Path | None = None) -> Path:
    """The undo journal of one Compose project on one engine: a run that dies leaves its
    pending undos where the next run against the same project and engine looks (and
    `drillbook undo --config` finds them)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", project)
    digest = hashlib.sha256(engine.encode()).hexdigest()[:12]
    return (root or journal_root()) / f"{safe}-{digest}.jsonl"


def open_docker_target(config: DrillbookConfig) -> Target:
    """Connect to the engine, lock the project, replay pending undos, check the services."""
    settings = config.docker
    project = settings.project
    if project is None:  # the loader refuses this already; a programmatic config may not
        raise InvalidDrill(f"{config.source}: key 'docker.project' is not set")
    engine = engine_address(settings.host)
    client = connect(settings.host, timeout=settings.request_timeout_seconds)
    lock: TargetLock | None = None
    try:
        compose = _compose_project(client, project, settings.compose_file, settings.host)
        components = {
            name: DockerComponent(
                name=name, project=project, service=component.compose_service or name, desired=0
            )
            for name, component in config.target.components.items()
        }
        platform = DockerPlatform(client, components, compose)
        platform.allow = config.allow
        # The scale each service has now; a scale-down a dead run left is put back by the
        # replay below (its undo names the count from before the fault).
        for component in components.values():
            component.desired = len(platform.containers(component.name))
        path = journal_path(project, engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Taken before the journal is read: its replay belongs to one run only.
        lock = TargetLock(
            path.with_suffix(".lock"),
            target=f"Compose project {project} on {engine}",
            halt_request=halt_request_path(path),
        ).acquire()
        target = Target(
            config=config,
            platform=platform,
            tokens=TokenProvider(config.target.auth),
            journal=UndoJournal(path),
            lock=lock,
        )
        target.closers.append(client.close)
    except BaseException:
        if lock is not None:
            lock.release()
        client.close()
        raise
    opened = finish_opening(target)
    _require_containers(opened, platform, project)
    return opened


def _compose_project(
    client: Any, project: str, compose_file: str | None, host: str | None
) -> ComposeProject:
    """The project as `docker compose` addresses it: the configured file, else the one its
    containers were created from (their labels)."""
    found = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    labels: dict[str, str] = dict(found[0].labels) if found else {}
    if compose_file is None and not labels:
        raise InvalidDrill(
            f"Compose project {project!r} has no containers on this engine, and docker."
            "compose_file is not set: bring the project up (docker compose -p "
            f"{project} -f <file> up -d) or name its file in docker.compose_file"
        )
    described = project_of(labels, project, compose_file)
    if compose_file is not None:
        described = ComposeProject(
            name=project,
            files=described.files,
            workdir=str(Path(compose_file).resolve().parent),
            host=host,
        )
    return ComposeProject(
        name=described.name, files=described.files, workdir=described.workdir, host=host
    )


def _require_containers(target: Target, platform: DockerPlatform, project: str) -> None:
    """Every configured service must have containers (after the replay, which may have scaled
    a service back): a drill of a service that is not deployed would measure nothing."""
    empty = [
        f"{name} ({platform.component(name).service})"
        for name in target.config.target.components
        if not platform.containers(name)
    ]
    if empty:
        target.close()
        raise InvalidDrill(
            f"Compose project {project!r} has no containers for {', '.join(empty)}: bring "
            "the project up first (docker compose up -d) or fix target.components.*."
            "compose_service"
        )
