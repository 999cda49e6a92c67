"""A Compose service's containers cut off from a network (a partition) and connected again.

Disconnecting keeps the containers running: to the rest of the project the service is
unreachable (its name no longer resolves, its connections fail), to the service everything else
is. Reconnecting gives each container back the aliases it had on the network (its service
name, under which the others reach it), recorded before the cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drillbook.errors import FaultFailed, InvalidDrill


def network_name(client: Any, project: str, network: str) -> str:
    """The engine's name of a project's network, given Compose's name (`default`) or the
    engine's own (`eleanor_default`)."""
    for candidate in (f"{project}_{network}", network):
        # The engine's name filter matches parts of names too: only an exact one counts.
        if any(n.name == candidate for n in client.networks.list(names=[candidate])):
            return candidate
    raise InvalidDrill(f"no network {network!r} (nor {project}_{network}) on this engine")


def attachments(container: Any) -> dict[str, dict[str, Any]]:
    """The networks a container is on, each with what its endpoint was given (aliases)."""
    container.reload()
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    return {str(name): dict(endpoint or {}) for name, endpoint in networks.items()}


def aliases_on(container: Any, network: str) -> list[str]:
    """The names the container answers to on `network`, other than its own id."""
    endpoint = attachments(container).get(network, {})
    short_id = str(container.id)[:12]
    names = list(endpoint.get("Aliases") or []) + list(endpoint.get("DNSNames") or [])
    kept: list[str] = []
    for name in names:
        if name and name != short_id and name != container.id and name not in kept:
            kept.append(str(name))
    return kept


def fixed_addresses(containers: Sequence[Any], network: str) -> dict[str, str]:
    """The containers given a fixed address on `network` (Compose `ipv4_address`), by name."""
    fixed: dict[str, str] = {}
    for container in containers:
        ipam = attachments(container).get(network, {}).get("IPAMConfig") or {}
        if ipam.get("IPv4Address"):
            fixed[str(container.name)] = str(ipam["IPv4Address"])
    return fixed


def disconnect(client: Any, network: str, containers: Sequence[Any]) -> dict[str, list[str]]:
    """Cut each container off `network`; the aliases each had there, by container name."""
    net = client.networks.get(network)
    cut: dict[str, list[str]] = {}
    for container in containers:
        if network not in attachments(container):
            continue
        cut[str(container.name)] = aliases_on(container, network)
        try:
            net.disconnect(container, force=True)
        except Exception as exc:
            raise FaultFailed(
                f"could not disconnect {container.name} from {network}: {exc}"
            ) from exc
    if not cut:
        raise FaultFailed(f"no container of the service is on network {network}")
    return cut


def reconnect(
    client: Any, network: str, containers: Sequence[Any], aliases: Mapping[str, Sequence[str]]
) -> list[str]:
    """Connect again each container not on `network`, with the aliases it had (a container
    recreated meanwhile gets those of any one cut off, which are the service's); the names of
    those connected."""
    net = client.networks.get(network)
    any_aliases = next(iter(aliases.values()), [])
    connected = []
    for container in containers:
        if network in attachments(container):
            continue
        names = [
            a
            for a in aliases.get(str(container.name), any_aliases)
            if a != container.name  # the engine adds the container's own name itself
        ]
        net.connect(container, aliases=names or None)
        connected.append(str(container.name))
    return connected
