"""The network of a two-site deployment: one network namespace per site, joined by a bridge.

    root namespace (users, the front door, the off-site store)  bridge  <gateway address>
        |-- veth --> namespace of site "primary"   <site address 1>
        '-- veth --> namespace of site "dr"        <site address 2>

Every site's processes run inside its namespace, so their traffic to users, to the other site
(replication) and to the off-site store really crosses a link that a drill can cut:
`isolate(site)` takes the site's link down (the site lives on, unreachable: a partition),
`cut_between(a, b)` drops only the traffic between two sites (replication stops, users still
reach both). Nothing here touches an interface or namespace it did not create: every name
carries the deployment's run id, and `leftovers(run_id)` finds what a dead run left behind.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drillbook.errors import MissingDependency, StackError
from drillbook.stack.binaries import require_binary

NAMESPACE_PREFIX = "drillbook-"
"""Every namespace this module creates is named drillbook-<run id>-<site>."""
INTERFACE_PREFIX = "dbk"
"""Interfaces are named dbk<run id><role>: Linux allows 15 characters, so run ids are short."""
RUN_ID_PATTERN = re.compile(r"[0-9a-f]{6}")


@dataclass(frozen=True)
class SiteLink:
    """One site's namespace and its link to the bridge."""

    site: str
    namespace: str
    host_interface: str
    """The root end of the veth pair, enslaved to the bridge: down means the site is cut off."""
    site_interface: str
    address: str


@dataclass(frozen=True)
class SiteNetwork:
    run_id: str
    bridge: str
    gateway_address: str
    """The root namespace's address on the bridge: where sites reach the off-site store."""
    prefix_length: int
    links: dict[str, SiteLink]

    def link(self, site: str) -> SiteLink:
        try:
            return self.links[site]
        except KeyError:
            raise StackError(
                f"the deployment has no site named {site!r}; it has {sorted(self.links)}"
            ) from None

    def address(self, site: str) -> str:
        return self.link(site).address

    def isolate(self, site: str) -> None:
        """Cut the site off from users, the other sites and the off-site store (it stays up)."""
        _run(["link", "set", self.link(site).host_interface, "down"])

    def reconnect(self, site: str) -> None:
        _run(["link", "set", self.link(site).host_interface, "up"])

    def is_isolated(self, site: str) -> bool:
        out = _run(["-o", "link", "show", self.link(site).host_interface])
        return "state UP" not in out and ",UP" not in out.split(">")[0]

    def cut_between(self, first: str, second: str) -> None:
        """Drop the traffic between two sites only (blackhole routes on both sides)."""
        for here, there in ((first, second), (second, first)):
            _run_in(
                self.link(here).namespace, ["route", "replace", "blackhole", self.address(there)]
            )

    def heal_between(self, first: str, second: str) -> None:
        for here, there in ((first, second), (second, first)):
            _run_in(
                self.link(here).namespace,
                ["route", "del", "blackhole", self.address(there)],
                check=False,
            )

    def cut_from_users(self, site: str) -> None:
        """Drop the traffic between the site and the root side (users, the front door, the
        off-site store); the link to the other sites stays up (replication goes on)."""
        _run_in(self.link(site).namespace, ["route", "replace", "blackhole", self.gateway_address])
        _run(["route", "replace", "blackhole", f"{self.address(site)}/32"])

    def reconnect_users(self, site: str) -> None:
        _run_in(
            self.link(site).namespace,
            ["route", "del", "blackhole", self.gateway_address],
            check=False,
        )
        _run(["route", "del", "blackhole", f"{self.address(site)}/32"], check=False)

    def destroy(self) -> None:
        """Remove the namespaces, the veth pairs and the bridge (each only if it exists)."""
        remove(self.run_id)


def create_network(run_id: str, subnet: str, sites: Sequence[str]) -> SiteNetwork:
    """Create the bridge and one namespace per site; on failure, whatever was made is removed."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise StackError(f"run id {run_id!r}: expected 6 lowercase hex digits")
    network = ipaddress.ip_network(subnet, strict=True)
    hosts = list(_first_hosts(network, len(sites) + 1))
    if len(hosts) < len(sites) + 1:
        raise StackError(
            f"sites.subnet {subnet}: too small for {len(sites)} sites and the gateway; use a /29 "
            "or larger private range"
        )
    _require_unused(network)
    _require_unrouted(network)
    _record_addresses(run_id, hosts[1 : len(sites) + 1])
    bridge = f"{INTERFACE_PREFIX}{run_id}br"
    gateway = str(hosts[0])
    links: dict[str, SiteLink] = {}
    try:
        _run(["link", "add", bridge, "type", "bridge"])
        _run(["addr", "add", f"{gateway}/{network.prefixlen}", "dev", bridge])
        _run(["link", "set", bridge, "up"])
        _forward_within(bridge, "-I")
        for index, site in enumerate(sites):
            namespace = f"{NAMESPACE_PREFIX}{run_id}-{site}"
            host_if = f"{INTERFACE_PREFIX}{run_id}{index}h"
            site_if = f"{INTERFACE_PREFIX}{run_id}{index}s"
            address = str(hosts[index + 1])
            _run(["netns", "add", namespace])
            _run(["link", "add", host_if, "type", "veth", "peer", "name", site_if])
            _run(["link", "set", site_if, "netns", namespace])
            _run(["link", "set", host_if, "master", bridge])
            _run(["link", "set", host_if, "up"])
            _run_in(namespace, ["link", "set", "lo", "up"])
            _run_in(namespace, ["addr", "add", f"{address}/{network.prefixlen}", "dev", site_if])
            _run_in(namespace, ["link", "set", site_if, "up"])
            links[site] = SiteLink(site, namespace, host_if, site_if, address)
    except BaseException:
        remove(run_id)
        raise
    return SiteNetwork(run_id, bridge, gateway, network.prefixlen, links)


def leftovers(run_id: str | None = None) -> list[str]:
    """Namespaces and interfaces a deployment (one run, or any) left behind."""
    wanted = run_id or ""
    found = [
        name
        for name in _namespaces()
        if name.startswith(f"{NAMESPACE_PREFIX}{wanted}")
        and RUN_ID_PATTERN.fullmatch(name[len(NAMESPACE_PREFIX) :][:6])
    ]
    found += [
        name
        for name in _interfaces()
        if name.startswith(f"{INTERFACE_PREFIX}{wanted}")
        and RUN_ID_PATTERN.fullmatch(name[len(INTERFACE_PREFIX) :][:6])
    ]
    return found


def remove(run_id: str) -> None:
    """Remove everything `create_network(run_id, ...)` made; what is gone already is skipped."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise StackError(f"run id {run_id!r}: expected 6 lowercase hex digits")
    for name in _namespaces():
        if name.startswith(f"{NAMESPACE_PREFIX}{run_id}-"):
            # Deleting a namespace destroys its end of a veth pair, and with it the pair.
            _run(["netns", "delete", name], check=False)
    for name in _interfaces():
        if name.startswith(f"{INTERFACE_PREFIX}{run_id}"):
            _run(["link", "delete", name], check=False)
    _forward_within(f"{INTERFACE_PREFIX}{run_id}br", "-D")
    # A partition's blackhole routes in the root namespace, for the addresses of this run's
    # sites (only those: the addresses recorded when the run created its network).
    for address in _recorded_addresses(run_id):
        _run(["route", "del", "blackhole", f"{address}/32"], check=False)


def _record_file(run_id: str) -> Path:
    return Path("/run/drillbook") / f"network-{run_id}.addresses"


def _record_addresses(run_id: str, addresses: Sequence[str]) -> None:
    path = _record_file(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(addresses) + "\n")


def _recorded_addresses(run_id: str) -> list[str]:
    path = _record_file(run_id)
    try:
        addresses = [line for line in path.read_text().split() if line]
    except OSError:
        return []
    path.unlink(missing_ok=True)
    return addresses


def _first_hosts(network: ipaddress.IPv4Network | ipaddress.IPv6Network, count: int) -> list[str]:
    hosts: list[str] = []
    for host in network.hosts():
        hosts.append(str(host))
        if len(hosts) == count:
            break
    return hosts


def _require_unused(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    """Refuse a subnet that overlaps an address this machine already has (another run's, or a
    real network's): routing the drill's links over it would touch something not ours."""
    for line in _run(["-o", "addr", "show"]).splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] not in ("inet", "inet6"):
            continue
        existing = ipaddress.ip_interface(fields[3]).network
        if existing.version == network.version and existing.overlaps(network):
            raise StackError(
                f"sites.subnet {network} overlaps {existing} on interface {fields[1]}: another "
                "deployment (or a real network) uses it; choose a free private range in "
                "[sites] subnet, or remove a dead deployment's leftovers with "
                "`drillbook sites cleanup`"
            )


def _require_unrouted(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    """Refuse a subnet that a route of this machine already covers (a VPN's, say), even with
    no local address in it: the bridge's own route would take its traffic over."""
    for line in _run(["route", "show"]).splitlines():
        destination = line.split()[0] if line.split() else ""
        if destination == "default" or destination.startswith(("blackhole", "unreachable")):
            continue
        try:
            existing = ipaddress.ip_network(destination, strict=False)
        except ValueError:
            continue
        if existing.version == network.version and existing.overlaps(network):
            raise StackError(
                f"sites.subnet {network} overlaps the route {line.strip()!r} of this machine: "
                "choose a private range nothing here routes, in [sites] subnet"
            )


def _namespaces() -> list[str]:
    return [line.split()[0] for line in _run(["netns", "list"]).splitlines() if line.strip()]


def _interfaces() -> list[str]:
    names = []
    for line in _run(["-o", "link", "show"]).splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def _forward_within(bridge: str, action: str) -> None:
    """Let the sites' traffic cross their own bridge ("-I": insert the rule, "-D": delete it).

    Site-to-site traffic is bridged, and once a Docker engine runs on the machine its bridged
    frames go through iptables (br_netfilter) into a FORWARD chain whose policy Docker set to
    DROP: replication between the sites would silently stop. The rule names only this bridge,
    in and out, and goes with the network. Without iptables there is nothing to do."""
    iptables = shutil.which("iptables") or next(
        (str(p) for p in (Path("/usr/sbin/iptables"), Path("/sbin/iptables")) if p.exists()), None
    )
    if iptables is None:
        return
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    if action == "-D":
        # Delete every copy (a run that died between insert and delete may have left one).
        for _ in range(8):
            gone = subprocess.run(
                [iptables, "-D", *rule], capture_output=True, text=True, timeout=30, check=False
            )
            if gone.returncode != 0:
                return
        return
    done = subprocess.run(
        [iptables, action, *rule], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise StackError(
            f"`iptables {action} {' '.join(rule)}` failed ({done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}; the sites' bridge needs it when the "
            "FORWARD chain drops by default (a Docker engine sets that)"
        )


def _ip() -> str:
    return str(require_binary("ip"))


def _run_in(namespace: str, args: list[str], *, check: bool = True) -> str:
    return _run(["netns", "exec", namespace, _ip(), *args], check=check)


def _run(args: list[str], *, check: bool = True) -> str:
    try:
        result = subprocess.run(
            [_ip(), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError as exc:  # pragma: no cover - require_binary found it a moment ago
        raise MissingDependency(f"'ip' could not be run: {exc}") from None
    if check and result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip()
        hint = (
            "; creating network namespaces needs root (CAP_NET_ADMIN): run as root, or in a "
            "container with --cap-add NET_ADMIN"
            if "Operation not permitted" in detail
            else ""
        )
        raise StackError(f"`ip {' '.join(args)}` failed ({result.returncode}): {detail}{hint}")
    return result.stdout
