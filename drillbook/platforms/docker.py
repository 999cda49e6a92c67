"""The `docker` platform: a component is a Compose service (project + service labels) whose
containers run on a Docker engine, driven through the engine's API (the `docker` SDK).

The verbs are what an operator does to a Compose deployment: kill = the container's process
dies of SIGKILL (a crash: the engine sees it exit and applies the service's restart policy, so
a `restart: unless-stopped` service comes back by itself, which the drill times, and one with
`restart: "no"` stays down until the runbook acts); stop = `docker stop` with the container's
own grace period; start; restart = the plan's rollout restart, one container at a time; scale =
`docker compose up -d --scale` (drillbook.platforms.docker_compose). Ready means running and,
where the container has a health check (the image's HEALTHCHECK or the Compose file's), healthy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drillbook.config.sections.allow import AllowSettings, refuse_unlisted_service
from drillbook.core.platform import ComponentStatus, Replica, ReplicaCount
from drillbook.core.undo import UndoAction
from drillbook.errors import FaultFailed, InvalidDrill, RecoveryTimeout
from drillbook.platforms import docker_files, docker_networks, docker_scratch, docker_volumes
from drillbook.platforms.docker_compose import ComposeProject
from drillbook.platforms.docker_env import ComposeEnv

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
PART_OF_LABEL = "io.drillbook.part-of"
"""On a service of the Compose file: its containers belong to the component of the service the
label names (a Redis replica's service to its master's: the cache's nodes are one component,
as a StatefulSet's pods are, while each needs its own service for its own static address)."""
_POLL_SECONDS = 0.1
_ROLL_TIMEOUT_SECONDS = 120.0
"""How long one container of a rolling restart may take to be ready again."""
_KILL_SEEN_SECONDS = 10.0
SELF_RESTARTING = frozenset({"always", "unless-stopped", "on-failure"})
_SELF_RESTARTING = SELF_RESTARTING
"""Restart policies under which the engine starts a crashed container again."""
DEFAULT_STOP_GRACE_SECONDS = 10
"""The engine's own default when a container declares no stop timeout."""


@dataclass
class DockerComponent:
    """One configured component: the containers of a Compose service."""

    name: str
    project: str
    service: str
    desired: int
    """The service's scale: containers that should run (the count found at open, then what
    `scale` set)."""


class DockerPlatform:
    """Platform Protocol over the Docker engine (see drillbook.core.platform.Platform)."""

    name = "docker"
    UNDO_VERBS = frozenset(
        {
            "start",
            "restart",
            "scale",
            "reconcile",
            "restore_volume",
            "reconnect_network",
            "restore_volume_file",
            "reset_env",
        }
    )

    def __init__(
        self,
        client: Any,
        components: Mapping[str, DockerComponent],
        compose: ComposeProject,
    ) -> None:
        self._client = client
        self._components = dict(components)
        self.compose = compose
        self.allow = AllowSettings()
        """What may be faulted ([allow] compose_services); set by whoever opens the target."""
        self.snapshot_dir: Path | None = None
        """Where a volume's copy is kept until its undo has run (beside the undo journal);
        set by whoever opens the target."""
        self.env: ComposeEnv | None = None
        """The project's env override (set_env); set by whoever opens the target."""
        self._undoing = False

    def close(self) -> None:
        self._client.close()

    @property
    def engine(self) -> Any:
        """The engine's API client, for a restore that drives containers itself
        (drillbook.backup.compose_pitr)."""
        return self._client

    @property
    def replaces_killed_pods(self) -> bool:
        """Whether the engine restarts a crashed container by itself, as a controller
        replaces a killed pod: every configured service's containers have a restart policy
        that does (always, unless-stopped, on-failure). There the plan's `kubectl delete pod`
        after a crash has been done by the engine, and the runbook only awaits the restarted
        container (drillbook.scenarios.workloads.runbook.replace_pod): restarting it again
        would be a second outage, and one that lands while it starts up waits out its whole
        stop grace period (its PID 1 may not have a signal handler yet)."""
        policies = {
            str((c.attrs.get("HostConfig", {}).get("RestartPolicy") or {}).get("Name") or "no")
            for name in self._components
            for c in self.containers(name)
        }
        return bool(policies) and policies <= _SELF_RESTARTING

    # --- lookup ---------------------------------------------------------------------------

    def component(self, component: str) -> DockerComponent:
        try:
            return self._components[component]
        except KeyError:
            known = ", ".join(sorted(self._components))
            raise InvalidDrill(
                f"component '{component}' is not configured for platform docker; known: {known}"
            ) from None

    def _refuse_unless_allowed(self, component: str) -> None:
        """Every verb that changes a service asks first; undos put back what an allowed fault
        changed and are not asked."""
        if not self._undoing:
            comp = self.component(component)
            refuse_unlisted_service(self.allow, comp.project, comp.service)
            for service in self._services(component) - {comp.service}:
                refuse_unlisted_service(self.allow, comp.project, service)

    def containers(self, component: str) -> list[Any]:
        """The service's containers and those of the services labelled part of it (not one-off
        `compose run` ones), by service (its own first), then container number."""
        comp = self.component(component)
        found = self._client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={comp.project}"}
        )
        services = [
            c
            for c in found
            if c.labels.get(ONEOFF_LABEL, "False") != "True"
            and comp.service in (c.labels.get(SERVICE_LABEL), c.labels.get(PART_OF_LABEL))
        ]
        return sorted(
            services,
            key=lambda c: (
                c.labels.get(SERVICE_LABEL) != comp.service,
                c.labels.get(SERVICE_LABEL, ""),
                int(c.labels.get(NUMBER_LABEL, "0") or 0),
                c.name,
            ),
        )

    def _services(self, component: str) -> set[str]:
        """The Compose services whose containers make up the component."""
        return {str(c.labels.get(SERVICE_LABEL)) for c in self.containers(component)}

    def _create_missing(self, component: str) -> None:
        """Containers missing from the desired count created, as `compose up --scale` does; a
        component of several services is brought back by `docker compose up -d` only."""
        comp = self.component(component)
        parts = self._services(component) - {comp.service}
        if parts:
            raise FaultFailed(
                f"'{component}' has fewer containers than its {comp.desired} (its services: "
                f"{', '.join(sorted({comp.service, *parts}))}): a component of several services "
                "is not scaled; bring them back with `docker compose up -d`"
            )
        self.compose.scale(comp.service, comp.desired)

    # --- what the Protocol reads ----------------------------------------------------------

    def replicas(self, component: str) -> list[Replica]:
        self.component(component)
        return [_replica(component, c) for c in self.containers(component)]

    def status(self, component: str) -> ComponentStatus:
        comp = self.component(component)
        containers = self.containers(component)
        return ComponentStatus(
            component=component,
            desired=comp.desired,
            running=sum(1 for c in containers if _running(c)),
            ready=sum(1 for c in containers if _ready(c)),
            replicas=tuple(_replica(component, c) for c in containers),
        )

    def wait_until_ready(self, component: str, *, timeout: float) -> float:
        comp = self.component(component)
        started = time.monotonic()
        while True:
            containers = self.containers(component)
            ready = [c.name for c in containers if _ready(c)]
            if len(ready) >= comp.desired:
                return time.monotonic() - started
            if time.monotonic() - started >= timeout:
                states = ", ".join(f"{c.name} {_state(c)}" for c in containers) or "none"
                raise RecoveryTimeout(
                    f"'{component}' not ready after {timeout:.1f}s: {len(ready)} of "
                    f"{comp.desired} containers ready ({states})"
                )
            time.sleep(_POLL_SECONDS)

    def log_tail(self, component: str, *, lines: int = 100) -> dict[str, str]:
        tails: dict[str, str] = {}
        for container in self.containers(component):
            raw = container.logs(tail=lines)
            tails[container.name] = raw.decode("utf-8", errors="replace") if raw else ""
        return tails

    # --- what acts -------------------------------------------------------------------------

    def kill(
        self, component: str, *, count: ReplicaCount = 1, names: Sequence[str] | None = None
    ) -> list[Replica]:
        """SIGKILL the main process of `count` running containers: a crash, as the engine sees
        one (its restart policy applies). Where this process may not signal it (another user,
        a remote engine), the engine's own kill is used, which Docker counts as an operator's
        stop: then no restart policy brings the container back."""
        self._refuse_unless_allowed(component)
        running = [c for c in self.containers(component) if _running(c)]
        if names is not None:
            running = [c for c in running if c.name in names]
        chosen = running if count == "all" else running[: int(count)]
        if not chosen:
            raise FaultFailed(f"no running container of '{component}' to kill")
        killed = [_replica(component, c) for c in chosen]
        for container in chosen:
            _crash(container)
        self._wait_killed(component, killed)
        return killed

    def _wait_killed(self, component: str, killed: Sequence[Replica]) -> None:
        # The engine notices the exit within milliseconds; a restart policy may have started the
        # container again by then (a new process), which is "killed" too.
        deadline = time.monotonic() + _KILL_SEEN_SECONDS
        while time.monotonic() < deadline:
            now = {r.name: r for r in self.replicas(component)}
            alive = [
                r.name
                for r in killed
                if (n := now.get(r.name)) is not None and n.running and n.pid == r.pid
            ]
            if not alive:
                return
            time.sleep(_POLL_SECONDS / 2)
        raise FaultFailed(f"containers {[r.name for r in killed]} of '{component}' still running")

    def stop(self, component: str) -> None:
        """`docker stop`: the stop signal, then SIGKILL after the container's grace period."""
        self._refuse_unless_allowed(component)
        for container in self.containers(component):
            if _running(container):
                container.stop(timeout=_grace(container))

    def start(self, component: str) -> None:
        """The desired containers running: stopped ones started, missing ones created."""
        comp = self.component(component)
        containers = self.containers(component)
        if len(containers) < comp.desired:
            self._create_missing(component)
            containers = self.containers(component)
        for container in containers[: comp.desired]:
            if not _running(container):
                _start(container)

    def reconcile(self, component: str) -> None:
        """Undo of a kill or stop: the desired containers running, as after `compose up -d`."""
        self.start(component)

    def restart(self, component: str) -> None:
        """The plan's rollout restart: dead containers started at once, then each running one
        restarted (stop with its grace period, start) and awaited before the next, so that
        the others keep serving."""
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        containers = self.containers(component)
        if len(containers) < comp.desired:
            self._create_missing(component)
            containers = self.containers(component)
        desired = containers[: comp.desired]
        dead = [c for c in desired if not _running(c)]
        alive = [c for c in desired if _running(c)]
        for container in dead:
            _start(container)
        for container in alive:
            container.restart(timeout=_grace(container))
            self._wait_container_ready(component, container.name)

    def _wait_container_ready(self, component: str, name: str) -> None:
        deadline = time.monotonic() + _ROLL_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            match = [c for c in self.containers(component) if c.name == name]
            if match and _ready(match[0]):
                return
            time.sleep(_POLL_SECONDS)
        raise RecoveryTimeout(
            f"'{component}' container {name} not ready {_ROLL_TIMEOUT_SECONDS:.0f}s after its "
            "restart; the rolling restart stopped there"
        )

    def scale(self, component: str, replicas: int) -> None:
        """`docker compose up -d --no-deps --no-recreate --scale SERVICE=N SERVICE`."""
        self._refuse_unless_allowed(component)
        if replicas < 0:
            raise InvalidDrill(f"cannot scale '{component}' to {replicas} containers")
        comp = self.component(component)
        parts = self._services(component) - {comp.service}
        if parts:
            raise InvalidDrill(
                f"cannot scale '{component}': its containers are those of several Compose "
                f"services ({', '.join(sorted({comp.service, *parts}))}, label {PART_OF_LABEL})"
            )
        self.compose.scale(comp.service, replicas)
        comp.desired = replicas

    def set_env(
        self,
        component: str,
        env: Mapping[str, str | None],
        container: str | None = None,
        *,
        recreate: bool = False,
    ) -> dict[str, str | None]:
        """The plan's `kubectl set env` on Compose: an override file and `docker compose up -d
        --no-deps SERVICE` (drillbook.platforms.docker_env). Compose has no rolling update: the
        containers are recreated together, `recreate` or not. The previous override values."""
        del container, recreate
        self._refuse_unless_allowed(component)
        previous = self._env().set(self.component(component).service, env)
        self._apply_env(component)
        return previous

    def reset_env(self, component: str, recreate: bool = False) -> None:
        """Undo of set_env: the service back to its file's environment (no value journaled)."""
        del recreate
        self._env().reset(self.component(component).service)
        self._apply_env(component)

    def env_overlay(self, component: str) -> dict[str, str | None]:
        return self._env().overlay(self.component(component).service)

    def _env(self) -> ComposeEnv:
        if self.env is None:
            raise InvalidDrill("platform docker was opened without its env override's place")
        return self.env

    def _apply_env(self, component: str) -> None:
        comp = self.component(component)
        self.compose = self._env().project()  # every later compose call with the override
        self._env().up(comp.service, comp.desired)

    def write_volume_file(
        self, component: str, volume: str, relative_path: str, archive: bytes
    ) -> None:
        """A file the service reads (e.g. a token) put in its volume as a one-member tar
        archive (with its owner and mode), through a throwaway container."""
        mount = self.volume_of(component, volume)
        args = (self._client, self.image_of(component), mount.name, mount.destination)
        docker_files.write_archive(*args, relative_path, archive)

    # --- storage and networks (drillbook.platforms.docker_volumes, docker_networks) ---------

    def volume_of(self, component: str, volume: str) -> docker_volumes.VolumeMount:
        return docker_volumes.find_volume(self._client, self.containers(component), volume)

    def volume_exists(self, name: str) -> bool:
        return docker_volumes.volume_exists(self._client, name)

    def describe_volume(self, name: str) -> dict[str, Any]:
        return docker_volumes.describe_volume(self._client, name)

    def image_of(self, component: str) -> str:
        """The image the service's containers run (the throwaway copier uses it: no pull)."""
        containers = self.containers(component)
        if not containers:
            raise FaultFailed(f"'{component}' has no container to read its image from")
        return str(containers[0].attrs.get("Config", {}).get("Image") or containers[0].image.id)

    def remove_volume(self, component: str, volume: str, *, snapshot: Path, image: str) -> int:
        """Storage lost: the service's containers killed (SIGKILL through the engine, so no
        restart policy brings them back on the volume) and removed, the volume copied to
        `snapshot` (for the undo), then removed. The copy's size in bytes."""
        self._refuse_unless_allowed(component)
        mount = self.volume_of(component, volume)
        containers = self.containers(component)
        for container in containers:
            # Never restarted on the volume while it is copied: these containers are removed.
            container.update(restart_policy={"Name": "no"})
            if _running(container):
                with contextlib.suppress(Exception):
                    container.kill(signal="SIGKILL")
        for container in containers:
            container.wait(timeout=int(_KILL_SEEN_SECONDS))
        size = docker_volumes.copy_out(self._client, image, mount.name, mount.destination, snapshot)
        for container in containers:
            container.remove(force=True)
        docker_volumes.remove(self._client, mount.name)
        return size

    def restore_volume(
        self,
        component: str,
        volume: str,
        described: dict[str, Any],
        snapshot: str,
        image: str,
        mounted_at: str,
        replicas: int,
    ) -> None:
        """Undo of `remove_volume`: the volume recreated from its copy unless it exists again
        (a runbook's restore is kept), then the service's containers back (`compose up`)."""
        copy = Path(snapshot)
        if not self.volume_exists(volume):
            if not copy.is_file():
                raise FaultFailed(
                    f"volume {volume} is gone and its copy {copy} is missing: restore it from "
                    "a backup by hand"
                )
            docker_volumes.recreate(self._client, volume, described)
            docker_volumes.copy_in(self._client, image, volume, mounted_at, copy)
        comp = self.component(component)
        self.compose.scale(comp.service, replicas)
        comp.desired = replicas
        self.start(component)
        docker_volumes.discard(copy)

    def refill_volume(
        self, component: str, volume: str, *, port: str, fill: Callable[[int], None]
    ) -> None:
        """A restore's volume: the service's containers removed with the volume, the volume
        created again empty (as declared: Compose adopts it), the service's image run alone on
        it, out of its clients' reach, while `fill(host_port)` writes into it
        (drillbook.platforms.docker_scratch), then the service's containers created again by
        Compose on it (also when `fill` fails: the service is never left without them)."""
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        replicas = max(comp.desired, 1)
        containers = self.containers(component)
        if not containers:
            raise FaultFailed(f"'{component}' has no container to take its image and setup from")
        mount = self.volume_of(component, volume)
        described = docker_volumes.describe_volume(self._client, mount.name)
        image = self.image_of(component)
        env = list(containers[0].attrs.get("Config", {}).get("Env") or [])
        for container in containers:
            container.remove(force=True)
        docker_volumes.remove(self._client, mount.name)
        docker_volumes.recreate(self._client, mount.name, described)
        try:
            docker_scratch.run_alone(
                self._client,
                image=image,
                env=env,
                volume=mount.name,
                mounted_at=mount.destination,
                port=port,
                fill=fill,
            )
        finally:
            self.compose.scale(comp.service, replicas)
            comp.desired = replicas

    def read_volume_file(self, component: str, volume: str, relative_path: str) -> bytes | None:
        """A file in the service's volume as a one-member tar archive (None: no such file)."""
        mount = self.volume_of(component, volume)
        image = self.image_of(component)
        return docker_files.read_archive(
            self._client, image, mount.name, mount.destination, relative_path
        )

    def damage_volume_file(
        self, component: str, volume: str, relative_path: str, data: bytes, saved: Path
    ) -> list[Replica]:
        """A storage failure: the service's containers killed through the engine (an
        operator's kill, so no restart policy starts them on the damaged file), the file's
        original kept at `saved` (whole before anything is written), then `data` over it."""
        self._refuse_unless_allowed(component)
        mount = self.volume_of(component, volume)
        image = self.image_of(component)
        running = [c for c in self.containers(component) if _running(c)]
        killed = [_replica(component, c) for c in running]
        for container in running:
            with contextlib.suppress(Exception):  # exited meanwhile: what a kill wants
                container.kill(signal="SIGKILL")
        for container in running:
            container.wait(timeout=int(_KILL_SEEN_SECONDS))
        args = (self._client, image, mount.name, mount.destination, relative_path)
        original = docker_files.read_archive(*args)
        if original is None:
            raise FaultFailed(f"volume {mount.name} has no file {relative_path} to damage")
        docker_files.keep(original, saved)
        docker_files.write_archive(*args, docker_files.with_content(original, data))
        return killed

    def restore_volume_file(
        self,
        component: str,
        volume: str,
        mounted_at: str,
        image: str,
        relative_path: str,
        saved: str,
        if_sha256: str,
    ) -> None:
        """Undo of `damage_volume_file`: the saved original put back while the file still holds
        the damage (sha256 `if_sha256`), then the service's containers started. A recovery
        that replaced the file (a restore into a recreated volume) has undone the fault
        already: kept. The saved original is deleted once not needed; a file gone altogether
        (no volume) keeps it for the operator."""
        copy = Path(saved)
        args = (self._client, image, volume, mounted_at, relative_path)
        current = docker_files.read_archive(*args) if self.volume_exists(volume) else None
        held = None if current is None else docker_files.content_of(current)
        if held is not None and hashlib.sha256(held).hexdigest() == if_sha256:
            if not copy.is_file():
                raise FaultFailed(
                    f"cannot undo the damage to {relative_path} in volume {volume}: its saved "
                    f"original {copy} is gone; restore the database from a backup (drillbook "
                    "restore database)"
                )
            docker_files.write_archive(*args, copy.read_bytes())
        if held is not None:
            copy.unlink(missing_ok=True)
        # A run that died during a restore (refill_volume, drillbook.backup.compose_pitr) may
        # have left its server on the volume, and the service without containers (a volume
        # in use cannot be replaced): that server goes first, then one is created again.
        docker_scratch.remove_leftovers(self._client, volume)
        comp = self.component(component)
        comp.desired = max(comp.desired, 1)
        self.start(component)

    def service_containers(self, service: str) -> list[Any]:
        """The running or stopped containers of one of the project's services, configured as
        a component or not (the project's S3, say): read only."""
        project = next(iter(self._components.values())).project
        labels = [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]
        found = self._client.containers.list(all=True, filters={"label": labels})
        return [c for c in found if c.labels.get(ONEOFF_LABEL, "False") != "True"]

    def networks_of(self, component: str) -> dict[str, dict[str, list[str]]]:
        """The networks the service's containers are on: per network, each container's
        aliases there."""
        found: dict[str, dict[str, list[str]]] = {}
        for container in self.containers(component):
            for network in docker_networks.attachments(container):
                aliases = docker_networks.aliases_on(container, network)
                found.setdefault(network, {})[str(container.name)] = aliases
        return found

    def fixed_addresses(self, component: str, network: str) -> dict[str, str]:
        """The service's containers with a fixed address on `network`, by name."""
        return docker_networks.fixed_addresses(self.containers(component), network)

    def network_name(self, component: str, network: str) -> str:
        project = self.component(component).project
        return docker_networks.network_name(self._client, project, network)

    def disconnect_network(self, component: str, network: str) -> dict[str, list[str]]:
        """A partition: every container of the service cut off `network` (still running)."""
        self._refuse_unless_allowed(component)
        return docker_networks.disconnect(self._client, network, self.containers(component))

    def reconnect_network(
        self, component: str, network: str, aliases: dict[str, list[str]]
    ) -> None:
        """Undo of `disconnect_network`: every container of the service on `network` again,
        with the aliases it had there."""
        docker_networks.reconnect(self._client, network, self.containers(component), aliases)

    def apply_undo(self, action: UndoAction) -> None:
        if action.platform != self.name or action.verb not in self.UNDO_VERBS:
            raise InvalidDrill(f"docker platform cannot execute undo {action.verb!r}")
        self._undoing = True
        try:
            getattr(self, action.verb)(**action.args)
        finally:
            self._undoing = False


# --- one container -----------------------------------------------------------------------


def _fresh(container: Any) -> dict[str, Any]:
    container.reload()
    attrs: dict[str, Any] = container.attrs
    return attrs


def _state(container: Any) -> str:
    state = container.attrs.get("State", {})
    health = (state.get("Health") or {}).get("Status")
    status = str(state.get("Status", "unknown"))
    return f"{status} ({health})" if health else status


def _running(container: Any) -> bool:
    return bool(container.attrs.get("State", {}).get("Running")) and not bool(
        container.attrs.get("State", {}).get("Restarting")
    )


def _ready(container: Any) -> bool:
    """Running, and healthy where it has a health check."""
    if not _running(container):
        return False
    health = container.attrs.get("State", {}).get("Health")
    return health is None or health.get("Status") == "healthy"


def _grace(container: Any) -> int:
    configured = container.attrs.get("Config", {}).get("StopTimeout")
    return int(configured) if configured is not None else DEFAULT_STOP_GRACE_SECONDS


def _start(container: Any) -> None:
    try:
        container.start()
    except Exception as exc:
        # A restart policy may be starting it at this moment: only a container that is still
        # not running is a failure.
        _fresh(container)
        if not _running(container):
            raise FaultFailed(f"could not start container {container.name}: {exc}") from exc


def _crash(container: Any) -> None:
    pid = int(container.attrs.get("State", {}).get("Pid") or 0)
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            try:
                os.kill(pid, signal.SIGKILL)
                return
            except PermissionError:
                pass
    try:
        container.kill(signal="SIGKILL")
    except Exception as exc:
        _fresh(container)
        if _running(container) and int(container.attrs["State"].get("Pid") or 0) == pid:
            raise FaultFailed(f"could not kill container {container.name}: {exc}") from exc


def _replica(component: str, container: Any) -> Replica:
    state = container.attrs.get("State", {})
    running = _running(container)
    pid = int(state.get("Pid") or 0)
    return Replica(
        component=component,
        name=str(container.name),
        pid=pid if running and pid > 0 else None,
        running=running,
        state=_state(container),
        started_at=_timestamp(state.get("StartedAt")),
    )


_ENGINE_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def engine_time(text: object) -> float | None:
    """The engine's RFC 3339 time (State.StartedAt, ...) as Unix time; None for never."""
    return _timestamp(text)


def _timestamp(text: object) -> float | None:
    """The engine's RFC 3339 time (nanoseconds, Z) as Unix time; None for never."""
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    match = _ENGINE_TIME.fullmatch(text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    # fromisoformat takes at most microseconds.
    iso = f"{base}.{(fraction or '0')[:6]}{'+00:00' if zone == 'Z' else zone}"
    return datetime.fromisoformat(iso).timestamp()
