"""The platform Protocol: the only way drills touch the target's processes.

Drills are written once against this interface; `local` (processes under supervisord) and
`kubernetes` implement it. A component is a name from the configuration (app, database, ...);
a replica is one process or pod of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from drillbook.core.undo import UndoAction

ReplicaCount = int | Literal["all"]


@dataclass(frozen=True)
class Replica:
    """One process (local) or pod (Kubernetes) of a component."""

    component: str
    name: str
    pid: int | None
    """Process id on the local platform; None for pods or stopped processes."""
    running: bool
    state: str
    """The platform's own word for the state (supervisord RUNNING/EXITED, pod phase)."""
    started_at: float | None = None
    """Unix time the replica started, from the platform (server-side where it has one)."""


@dataclass(frozen=True)
class ComponentStatus:
    component: str
    desired: int
    """Replicas the component should have (Deployment spec.replicas, or the local equivalent)."""
    running: int
    ready: int
    replicas: tuple[Replica, ...]

    @property
    def healthy(self) -> bool:
        return self.ready >= self.desired


@runtime_checkable
class Platform(Protocol):
    """What a drill may do to a target's processes."""

    name: str

    def replicas(self, component: str) -> list[Replica]:
        """Every replica of the component, running or not."""
        ...

    def kill(
        self, component: str, *, count: ReplicaCount = 1, names: Sequence[str] | None = None
    ) -> list[Replica]:
        """SIGKILL (or force-delete) running replicas; returns those killed."""
        ...

    def stop(self, component: str) -> None:
        """Stop every replica gracefully."""
        ...

    def start(self, component: str) -> None:
        """Start the desired replicas that are not running."""
        ...

    def restart(self, component: str) -> None:
        """The plan's `rollout restart`: replace every desired replica."""
        ...

    def scale(self, component: str, replicas: int) -> None:
        """Change the desired replica count and start or stop replicas to match."""
        ...

    def set_env(
        self, component: str, env: Mapping[str, str | None], container: str | None = None
    ) -> dict[str, str | None]:
        """The plan's `kubectl set env`: set (None: remove) variables of the workload, which
        rolls its replicas; returns the previous values. Wait with `wait_until_ready`."""
        ...

    def wait_until_ready(self, component: str, *, timeout: float) -> float:
        """Block until every desired replica is ready; returns the seconds waited."""
        ...

    def status(self, component: str) -> ComponentStatus: ...

    def log_tail(self, component: str, *, lines: int = 100) -> dict[str, str]:
        """The last lines of each replica's log, by replica name."""
        ...

    def apply_undo(self, action: UndoAction) -> None:
        """Execute a journaled undo (see drillbook.core.undo and drillbook.engine.undo)."""
        ...
