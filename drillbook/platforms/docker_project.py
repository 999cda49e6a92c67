"""A Compose project on an engine, as every opener of it needs it: where its undo journal and
lock are on this machine, how `docker compose` addresses it, and the platform over its
configured services. Used by the drill's target (drillbook.assembly.docker_target) and by
`drillbook backup|restore database` on platform docker (drillbook.backup.compose)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from drillbook.config.model import DrillbookConfig
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import PROJECT_LABEL, DockerComponent, DockerPlatform
from drillbook.platforms.docker_compose import ComposeProject, project_of


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


def compose_project(
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


def docker_platform(client: Any, config: DrillbookConfig, journal: Path) -> DockerPlatform:
    """The platform over the configured services: the allow-list, each service's scale as
    found now, a lost volume's copy kept beside the journal whose undo names it."""
    project = config.docker.project
    if project is None:  # the loader refuses this already; a programmatic config may not
        raise InvalidDrill(f"{config.source}: key 'docker.project' is not set")
    settings = config.docker
    compose = compose_project(client, project, settings.compose_file, settings.host)
    components = {
        name: DockerComponent(
            name=name, project=project, service=component.compose_service or name, desired=0
        )
        for name, component in config.target.components.items()
    }
    platform = DockerPlatform(client, components, compose)
    platform.allow = config.allow
    platform.snapshot_dir = journal.parent / "snapshots"
    # The scale each service has now; a scale-down a dead run left is put back by its undo
    # (which names the count from before the fault).
    for component in components.values():
        component.desired = len(platform.containers(component.name))
    return platform
