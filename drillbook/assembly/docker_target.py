"""The target of a drill on platform `docker`: the containers of a Compose project on a Docker
engine.

Called by `drillbook.assembly.target.open_target`. It connects to the engine (one message with
the socket and how to start one when none answers), takes the project's lock (one run per
project and engine on this machine), replays the undos a dead run left pending in the project's
journal, and checks that every configured service has containers to drill.
"""

from __future__ import annotations

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.engine.lock import TargetLock
from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_engine import connect, engine_address
from drillbook.platforms.docker_env import ComposeEnv, override_path
from drillbook.platforms.docker_project import docker_platform, journal_path, journal_root
from drillbook.probes.auth import TokenProvider
from drillbook.target import Target

# Where a project's journal is: imported from here by `drillbook undo` and the tests too.
__all__ = ["journal_path", "journal_root", "open_docker_target"]


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
        path = journal_path(project, engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        platform = docker_platform(client, config, path)
        # Before any undo is replayed: a dead run's `reset_env` needs the override's place, and
        # while an override exists every compose call must name it.
        platform.env = ComposeEnv(override_path(path), platform.compose)
        platform.compose = platform.env.project()
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
