"""A Compose service's environment changed as an operator changes it: the plan's `kubectl set
env` on Compose is an override file and `docker compose -f FILE -f OVERRIDE up -d --no-deps
SERVICE`, which recreates the service's containers with it.

The override is one file per project and engine, in drillbook's state beside the project's undo
journal, written owner-only (the plan's fallback puts the JWT secret in it) and replaced whole.
It is JSON, which Compose reads as YAML: `services.<service>.environment` is what Compose
applies; the top-level extension `x-drillbook-env` keeps what was asked per service, with null
for a variable removed (Compose cannot remove a variable the project's file sets, so a removed
one is set empty: the reference service, like most, treats empty as unset). While the file
exists, every `docker compose` call of the platform names it (`ComposeEnv.project`): a later
`up` (a scale, a restore) must not silently put the deployed environment back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from drillbook.core.private_files import write_private
from drillbook.errors import FaultFailed
from drillbook.platforms.docker_compose import ComposeProject

EXTENSION = "x-drillbook-env"
UP_TIMEOUT_SECONDS = 300.0

Overlay = dict[str, str | None]


def override_path(journal: Path) -> Path:
    """The project's env override, beside its undo journal (one per project and engine)."""
    return journal.with_name(f"{journal.stem}.env-override.yaml")


def read_overlays(path: Path) -> dict[str, Overlay]:
    """What was asked per service ({} without a file); a malformed file is an error, never
    silently an empty overlay (that would recreate the service with the deployed env)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    asked = data.get(EXTENSION) if isinstance(data, dict) else None
    if not isinstance(asked, dict) or not all(_is_overlay(o) for o in asked.values()):
        raise FaultFailed(f"{path}: not an env override drillbook wrote; remove it by hand")
    return {str(service): dict(overlay) for service, overlay in asked.items()}


def _is_overlay(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    )


def render(overlays: Mapping[str, Mapping[str, str | None]]) -> dict[str, object]:
    """The override Compose reads: each service's variables (removed ones empty), and what was
    asked, for `read_overlays`."""
    return {
        EXTENSION: {service: dict(overlay) for service, overlay in overlays.items()},
        "services": {
            service: {"environment": {k: "" if v is None else v for k, v in overlay.items()}}
            for service, overlay in overlays.items()
        },
    }


class ComposeEnv:
    """The env override of one Compose project: read, changed, applied."""

    def __init__(self, path: Path, base: ComposeProject) -> None:
        self.path = path
        self._base = base

    def project(self) -> ComposeProject:
        """The project as `docker compose` must address it now: its files, and the override
        while one exists."""
        if not self.path.is_file():
            return self._base
        return replace(self._base, files=(*self._base.files, str(self.path)))

    def overlay(self, service: str) -> Overlay:
        return read_overlays(self.path).get(service, {})

    def set(self, service: str, env: Mapping[str, str | None]) -> Overlay:
        """Merge `env` into the service's overlay; the previous values of those names."""
        overlays = read_overlays(self.path)
        current = overlays.setdefault(service, {})
        previous = {name: current.get(name) for name in env}
        current.update(env)
        self._write(overlays)
        return previous

    def reset(self, service: str) -> None:
        """The service back to the project's file: its overlay dropped (the file with it when
        no other service has one)."""
        overlays = read_overlays(self.path)
        if overlays.pop(service, None) is None:
            return
        if overlays:
            self._write(overlays)
        else:
            self.path.unlink(missing_ok=True)

    def _write(self, overlays: Mapping[str, Overlay]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(self.path, json.dumps(render(overlays), indent=2, sort_keys=True))

    def up(self, service: str, replicas: int) -> None:
        """`docker compose up -d --no-deps --scale SERVICE=N SERVICE`: the containers whose
        configuration differs from the files (the override included) are recreated; the same
        command with no change left is a no-op, so a replayed undo is harmless."""
        project = self.project()
        project.run(
            ("up", "-d", "--no-deps", "--scale", f"{service}={replicas}", service),
            timeout=UP_TIMEOUT_SECONDS,
            what=f"recreate {project.name}/{service} with its environment",
        )
