"""The `[docker]` table: which Docker engine and Compose project drills act on (platform
"docker")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drillbook.config.schema import Context, Duration, PathText, Text, build, setting

__all__ = ["DockerSettings", "parse"]


@dataclass(frozen=True)
class DockerSettings:
    """How drillbook reaches the Docker engine and the Compose project it drills."""

    project: str | None = field(
        default=None,
        metadata=setting(
            Text(),
            "The Compose project name (its containers' label com.docker.compose.project), e.g. "
            '"eleanor"; required on platform "docker".',
        ),
    )
    compose_file: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            "The project's Compose file, for the verbs that need Compose itself (scale: "
            "`docker compose up -d --scale`); relative paths are taken from the working "
            "directory. Not set: read from the containers' label "
            "com.docker.compose.project.config_files.",
        ),
    )
    host: str | None = field(
        default=None,
        metadata=setting(
            Text(),
            'The engine\'s address, e.g. "unix:///var/run/docker.sock"; not set reads '
            "$DOCKER_HOST, then the default socket /var/run/docker.sock.",
        ),
    )
    request_timeout_seconds: float = field(
        default=30.0,
        metadata=setting(
            Duration(positive="a duration > 0"),
            "Timeout of each call to the Docker engine.",
            key="request_timeout",
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> DockerSettings:
    return build(context, "docker", table, DockerSettings)
