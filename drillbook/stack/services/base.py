"""What a service of the embedded stack provides: its processes, its components, its start-up.

Services are laid out first (directories, configuration files, ports, and environment variables
they hand to the application replicas), then started in order, each waiting until it is
ready, so a replica never starts before the database it needs (the data services, which need
nothing but supervisord, start at the same time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from drillbook.config.model import StackSettings
from drillbook.platforms.local import LocalComponent
from drillbook.stack.layout import Program

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack


@dataclass
class StackContext:
    """Shared while the stack is laid out: the run directory, ports, secrets, the app's env."""

    run_dir: Path
    settings: StackSettings
    take_port: Callable[[str], int]
    """Reserve a free loopback port under a name (recorded in the stack's manifest)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Generated secrets by name; registered with the redactor, kept in a 0600 file."""
    app_env: dict[str, str] = field(default_factory=dict)
    """Environment variables every application replica gets (URLs of its dependencies)."""
    ports: dict[str, int] = field(default_factory=dict)
    """Every port taken so far, by name (a site's gateway, laid out last, forwards them all)."""


class StackService(Protocol):
    name: str

    def layout(self, ctx: StackContext) -> list[Program]:
        """Prepare files and directories; return the supervisord programs of this service."""
        ...

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        """The platform components (name -> supervisord group and readiness) it provides."""
        ...

    def start(self, stack: LocalStack) -> None:
        """Start the processes, wait until ready, run any one-time set-up (create a database).

        A service whose class sets `independent_start = True` needs nothing but supervisord to
        start: consecutive such services start at the same time (local_stack._start_services).
        """
        ...
