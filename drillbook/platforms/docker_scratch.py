"""A Compose service's image run alone on its volume, reachable from this machine only: what a
restore writes through before the service's own containers start on the volume again.

The container is the service's (image, environment, volume at the same place) minus what makes
it the service: it is on the engine's default bridge network, not the project's, so the
service's clients (which reach it by its Compose name) cannot find it, and its port is
published on 127.0.0.1 at a port the engine picks. A database restored through it is never
seen half-loaded, nor written to by the application while it is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drillbook.errors import FaultFailed

THROWAWAY_LABEL = "drillbook.throwaway"
STOP_GRACE_SECONDS = 60
"""A clean shutdown (a database's checkpoint) before the service's containers take the volume."""


def _published(container: Any, port: str) -> int:
    container.reload()
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(port) or []
    for binding in bindings:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    raise FaultFailed(f"the engine published no host port for {port} of {container.name}")


def run_alone(
    client: Any,
    *,
    image: str,
    env: list[str],
    volume: str,
    mounted_at: str,
    port: str,
    fill: Callable[[int], None],
) -> None:
    """Start the image on `volume`, call `fill(host_port)`, stop it cleanly, remove it. A
    container that did not stop cleanly fails the call: the volume may be unfinished."""
    container = client.containers.run(
        image,
        detach=True,
        environment=env,
        volumes={volume: {"bind": mounted_at, "mode": "rw"}},
        ports={port: ("127.0.0.1", None)},
        labels={THROWAWAY_LABEL: "restore"},
    )
    try:
        fill(_published(container, port))
        container.stop(timeout=STOP_GRACE_SECONDS)
        status = int(container.wait(timeout=STOP_GRACE_SECONDS + 10).get("StatusCode", -1))
        if status != 0:
            raise FaultFailed(
                f"the restore's container on volume {volume} exited {status} when stopped"
            )
    finally:
        container.remove(force=True)


def remove_leftovers(client: Any, volume: str) -> int:
    """Restore containers a dead run left on `volume` (removed before the service's own start
    on it: two servers on one data directory would damage it); how many there were."""
    found = client.containers.list(
        all=True, filters={"label": f"{THROWAWAY_LABEL}=restore", "volume": volume}
    )
    for container in found:
        container.remove(force=True)
    return len(found)
