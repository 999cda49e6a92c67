"""The kind cluster of the kind tests: scripts/kind-up.sh run once, what it hands back, kubectl.

kind-up.sh creates (or finds) the cluster `drillbook-kind`, loads the images built here, deploys
the reference stack and waits until /health says healthy through the published NodePort; it
prints the kubeconfig and leaves the drills' secrets in drill.env beside it (mode 0600).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import drill_subprocess

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "v1.37.2"
# A cold cluster: node about 20 s, images up to a few minutes under load, the stack about 1 min.
UP_TIMEOUT_SECONDS = 900.0
# Creating or deleting the cluster changes the engine's containers and networks: it waits for
# any other session on this machine that snapshots them (the Docker tests) to let go first.
DOCKER_LOCK = Path(os.environ.get("DRILLBOOK_DOCKER_LOCK", "/tmp/drillbook-docker.lock"))


class KindUnavailable(Exception):
    """kind-up.sh cannot run here; the message says why."""


@dataclass(frozen=True)
class KindCluster:
    kubeconfig: Path
    #: ELEANOR_JWT_SECRET, ELEANOR_EVIDENCE_DSN, ELEANOR_LLM_API_KEY and OPENBAO_ROOT_TOKEN, as
    #: kind-up.sh wrote them (never logged).
    # repr=False: pytest prints the fixture in a failed assertion's explanation.
    secrets: dict[str, str] = field(repr=False)

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.secrets}

    def kubectl_json(self, *args: str) -> Any:
        """`kubectl ARGS -o json`, parsed."""
        result = subprocess.run(
            [str(kubectl()), "--kubeconfig", str(self.kubeconfig), *args, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr[-1000:]}"
        return json.loads(result.stdout)


def cache_root() -> Path:
    return Path(os.environ.get("DRILLBOOK_CACHE") or Path.home() / ".cache" / "drillbook")


def kubectl() -> Path:
    """The kubectl scripts/build-k8s.sh installed (kind-up.sh's own)."""
    return cache_root() / f"k8s-{K8S_VERSION}" / "bin" / "kubectl"


def docker_answers() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    result = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return f"no Docker engine answers: {result.stderr.strip()[-300:]}"
    return None


@contextmanager
def docker_lock() -> Iterator[None]:
    with DOCKER_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kind_up() -> KindCluster:
    """The cluster with the reference stack healthy (kind-up.sh: seconds to a minute when warm)."""
    with docker_lock():
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "kind-up.sh")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT_SECONDS,
            check=False,
        )
    if result.returncode != 0:
        why = f"scripts/kind-up.sh exited {result.returncode}: {result.stderr[-3000:]}"
        raise KindUnavailable(why)
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    drill_env = kubeconfig.with_name("drill.env")
    secrets = dict(line.split("=", 1) for line in drill_env.read_text().splitlines() if "=" in line)
    assert set(secrets) == {
        "ELEANOR_JWT_SECRET",
        "ELEANOR_EVIDENCE_DSN",
        "ELEANOR_LLM_API_KEY",
        "OPENBAO_ROOT_TOKEN",
    }, sorted(secrets)
    return KindCluster(kubeconfig=kubeconfig, secrets=secrets)


def run_drills(
    cluster: KindCluster, runs: Path, selection: Sequence[str], timeout: float
) -> dict[str, Any]:
    """Drills of drills/ run as a user runs them, in a pytest subprocess with
    --drillbook-config configs/kind.toml (`selection`: files or node ids, and pytest options
    such as -k): the run file it wrote, with pytest's return code and the end of its output."""
    config = REPO / "configs" / "kind.toml"
    return drill_subprocess.run_drills(config, runs, selection, env=cluster.env(), timeout=timeout)
