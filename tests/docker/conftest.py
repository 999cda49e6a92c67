"""The Docker tests: an engine (scripts/docker-up.sh) and the images (scripts/build-images.sh)
once per session, the reference Compose project up for the tests that drill it (down again as
soon as the last Docker test is done), and a check that tests/docker leaves the engine as it
found it.

When no engine can be started (no root, no apt, no docker.io), the tests are skipped with the
script's own reason on a developer's machine, and fail with it in CI (env CI set): CI must never
pass without having run them.

testcontainers' reaper (Ryuk) is disabled (TESTCONTAINERS_RYUK_DISABLED=true): its image comes
from a registry, which cannot be reached here. Every fixture that starts a container removes it
itself, and `engine_unchanged` checks after the last Docker test that `docker ps -a`,
`docker network ls` and `docker volume ls` list exactly what they listed at its start.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.docker.engine import (
    BUILD_TIMEOUT_SECONDS,
    EVIDENCE_DSN,
    UP_TIMEOUT_SECONDS,
    EngineState,
    EngineUnavailable,
    compose,
    project_containers,
    run_script,
)

os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Docker tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


# Package scope, not session: the reference project's dozen containers (and their health checks,
# an exec every second each) cost about a fifth of this 2-core machine while they run. Left up
# until the session's end they ran beside every integration test after tests/docker, and a
# freshly restarted replica of the embedded stack, short of CPU, answered one request 503 after
# recovery (a fresh-clone run: "1 of 63 load requests failed after recovery"). They go down as
# soon as the last Docker test is done.
@pytest.fixture(scope="package")
def engine_unchanged() -> Iterator[EngineState]:
    """An engine that answers, the images built; on the way out of tests/docker, the engine's
    containers, networks and volumes as they were when its first test started (after the engine
    was up)."""
    try:
        run_script("docker-up.sh", timeout=UP_TIMEOUT_SECONDS)
    except (EngineUnavailable, OSError) as exc:
        _unavailable(str(exc))
    run_script("build-images.sh", timeout=BUILD_TIMEOUT_SECONDS)
    before = EngineState.now()
    yield before
    left = before.differences(EngineState.now())
    assert not left, "the Docker tests left the engine changed: " + "; ".join(left)


@pytest.fixture(scope="package")
def compose_project(engine_unchanged: EngineState) -> Iterator[dict[str, str]]:
    """The reference project (configs/compose.toml's "eleanor") up and healthy, with the
    environment its drills need; taken down with its volumes afterwards unless it was up
    before the session (then it is someone's, and left as found)."""
    was_up = bool(project_containers())
    env = {
        # The API's signing secret exists only for this session, in its environment.
        "ELEANOR_JWT_SECRET": os.environ.get("ELEANOR_JWT_SECRET") or secrets.token_urlsafe(32),
        "ELEANOR_EVIDENCE_DSN": EVIDENCE_DSN,
        # The secrets drill's break-glass copy and OpenBao's root token (deploy/compose/README).
        "OPENBAO_ROOT_TOKEN": os.environ.get("OPENBAO_ROOT_TOKEN") or secrets.token_urlsafe(24),
        "ELEANOR_LLM_API_KEY": os.environ.get("ELEANOR_LLM_API_KEY") or secrets.token_urlsafe(32),
    }
    env["ELEANOR_LLM_STUB_KEY_SHA256"] = hashlib.sha256(
        env["ELEANOR_LLM_API_KEY"].encode()
    ).hexdigest()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        compose("up", "-d", "--wait", timeout=UP_TIMEOUT_SECONDS)
        yield env
    finally:
        if not was_up:
            compose("down", "--volumes", "--remove-orphans", "--timeout", "5")
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
