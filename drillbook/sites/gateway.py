"""The gateway of one site: its services, which listen on loopback, reachable at the site's address.

Every service of a site listens on 127.0.0.1:<port> inside the site's network namespace, as
in a single-site stack. The gateway (one HAProxy in TCP mode, in that namespace) listens on
<site address>:<port> for every named port and forwards each connection to 127.0.0.1:<port>,
so users (through the front door) and the other site (replication) reach the services over
the site's link without the services binding anything but loopback.

A gateway hides nothing: it has no health checks and no retries, so a dead service looks dead
(its connections are closed at once) instead of being waited for or papered over.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from drillbook.errors import StackError

CONNECT_TIMEOUT = "1s"
"""A partitioned or dead peer must show as down quickly."""
IDLE_TIMEOUT = "1h"
"""Client, server and tunnel timeouts: replication streams and Sentinel connections are idle
for long stretches, and a proxy that cut them would inject a fault the drill did not plan."""
MAXCONN = 2048
"""Per HAProxy process: connection pools of every replica, replication and Sentinel, with room
to spare; small enough that HAProxy needs no more file descriptors than a default limit."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def section_name(name: str) -> str:
    """`name` as an HAProxy section (proxy) identifier: letters, digits, '_', '.', '-'."""
    if not name:
        raise StackError("a port name is empty; name every port (e.g. 'postgres')")
    return _UNSAFE.sub("_", name)


def section_names(ports: Mapping[str, int]) -> dict[str, str]:
    """{port name: section name}, checked: two names must not end up as the same section."""
    sections: dict[str, str] = {}
    for name in sorted(ports):
        section = section_name(name)
        clash = next((other for other, taken in sections.items() if taken == section), None)
        if clash is not None:
            raise StackError(
                f"port names {clash!r} and {name!r} both become the HAProxy section "
                f"{section!r}; rename one (letters, digits, '_', '.', '-' are kept as they are)"
            )
        sections[name] = section
    return sections


def check_ports(ports: Mapping[str, int]) -> None:
    """Every port is a TCP port, and no two names share one (HAProxy could not bind both)."""
    if not ports:
        raise StackError("no ports to forward; expected a mapping such as {'postgres': 20002}")
    owners: dict[int, str] = {}
    for name in sorted(ports):
        port = ports[name]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise StackError(f"port {name!r} is {port!r}; expected a TCP port (1-65535)")
        if port in owners:
            raise StackError(
                f"port names {owners[port]!r} and {name!r} share port {port}; give each its own"
            )
        owners[port] = name


def endpoint(address: str, port: int) -> str:
    """`address:port` as HAProxy reads it (an IPv6 address in brackets)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise StackError(
            f"{address!r} is not an IP address; expected a site's address such as 10.213.0.2"
        ) from None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def tcp_defaults(global_lines: Sequence[str] = ()) -> str:
    """The global and defaults sections shared by the gateways and the front door, with
    `global_lines` added to the global section."""
    extra = "".join(f"    {line}\n" for line in global_lines)
    # No `log` lines: a proxy that only passes bytes has nothing to say per connection, and
    # HAProxy still writes its warnings (a server put in maintenance, ...) to stderr.
    # `retries 0`: a refused or timed-out connection is reported to the client at once, so the
    # drill measures the client's own reconnection, not the proxy's turn-around timer (1 s per
    # retry).
    return f"""global
    maxconn {MAXCONN}
{extra}
defaults
    mode tcp
    retries 0
    timeout connect {CONNECT_TIMEOUT}
    timeout client {IDLE_TIMEOUT}
    timeout server {IDLE_TIMEOUT}
    timeout tunnel {IDLE_TIMEOUT}
"""


def render_site_gateway_conf(address: str, ports: Mapping[str, int]) -> str:
    """haproxy.cfg of a site's gateway: <address>:<port> -> 127.0.0.1:<port> for every port."""
    check_ports(ports)
    sections = section_names(ports)
    listens = [
        f"""
listen {sections[name]}
    bind {endpoint(address, ports[name])}
    server local 127.0.0.1:{ports[name]}
"""
        for name in sorted(ports)
    ]
    return tcp_defaults() + "".join(listens)
