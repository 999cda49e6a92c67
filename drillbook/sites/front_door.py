"""The front door of a two-site deployment: what users reach, and the switch a failover flips.

It stands for the DNS record or global load balancer in front of a real multi-site deployment.
One HAProxy (TCP mode, root namespace) listens on 127.0.0.1:<port> for every named port and
forwards to <active site address>:<port>, where the site's gateway (drillbook.sites.gateway)
takes over. Every section holds one server per site, named after the site; exactly one site's
servers are enabled, or none when the front door is drained (a planned switchover drains it
while the DR site catches up, so no write lands on the old primary meanwhile).

The runbook of a failover switches sites through HAProxy's runtime API (the admin-level stats
socket), for every port at once: `FrontDoor.switch_to(site)`. There are no health checks: the
front door never fails over by itself, as DNS does not; deciding to fail over is the runbook's
job, and the drill measures it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from drillbook.errors import StackError
from drillbook.sites.gateway import (
    check_ports,
    endpoint,
    section_name,
    section_names,
    tcp_defaults,
)
from drillbook.stack.haproxy_runtime import exchange

NONE = "none"
"""What `FrontDoor.describe` says of a section with no site enabled (drained)."""

_TIMEOUT_SECONDS = 1.0
_MAX_SOCKET_PATH_BYTES = 107
"""sun_path holds 108 bytes, the last one a NUL: HAProxy refuses a longer stats socket path."""
_CONFIG_MAINTENANCE = 0x04
"""srv_admin_state's flag remembering `disabled` in the configuration: it stays set after
`set server ... state ready` and alone does not keep traffic away. Every other flag (forced,
inherited or resolution maintenance, drain) does."""


def render_front_door_conf(
    ports: Mapping[str, int],
    sites: Mapping[str, str],
    active: str | None,
    admin_socket: Path,
) -> str:
    """haproxy.cfg of the front door: 127.0.0.1:<port> -> <address of `active`>:<port>.

    `sites` maps each site's name to its address; `active` None starts the front door drained.
    """
    check_ports(ports)
    _check_site_names(list(sites))
    if active is not None and active not in sites:
        raise StackError(f"active site {active!r} is not one of the sites {sorted(sites)}")
    _check_socket_path(admin_socket)
    sections = section_names(ports)
    listens = []
    for name in sorted(ports):
        servers = "".join(
            f"    server {site} {endpoint(sites[site], ports[name])}"
            + ("" if site == active else " disabled")
            + "\n"
            for site in sorted(sites)
        )
        listens.append(f"\nlisten {sections[name]}\n    bind 127.0.0.1:{ports[name]}\n{servers}")
    # Admin level: switching sites is `set server ... state`, refused at the user level.
    stats = f"stats socket {admin_socket} mode 600 level admin"
    return tcp_defaults([stats]) + "".join(listens)


@dataclass(frozen=True)
class _Server:
    section: str
    name: str
    admin_state: int

    @property
    def enabled(self) -> bool:
        return self.admin_state & ~_CONFIG_MAINTENANCE == 0


class FrontDoor:
    """The runtime switch of a running front door (its admin socket)."""

    def __init__(self, admin_socket: Path, sites: Sequence[str]) -> None:
        _check_site_names(sites)
        if len(set(sites)) != len(sites):
            raise StackError(f"the sites {list(sites)} name a site twice")
        self.admin_socket = admin_socket
        self.sites = tuple(sites)

    def active(self) -> str | None:
        """The site every section sends users to, or None when the front door is drained."""
        enabled = self._enabled()
        states = set(enabled.values())
        if len(states) > 1:
            by_state = "; ".join(
                f"{_describe(state)} in {', '.join(s for s, v in enabled.items() if v == state)}"
                for state in sorted(states)
            )
            raise StackError(
                f"the front door's sections disagree on the active site ({by_state}); "
                f"switch_to(site) or drain() sets every section alike"
            )
        (state,) = states
        if len(state) > 1:
            raise StackError(
                f"the front door sends users to several sites at once ({', '.join(state)}) "
                f"in every section; switch_to(site) or drain() leaves one or none"
            )
        return state[0] if state else None

    def describe(self) -> dict[str, str]:
        """{section: the site it sends users to}, "none" if drained; a section sending users
        to several sites (a half-done switch) shows them joined by '+', e.g. "dr+primary"."""
        return {section: _describe(state) for section, state in self._enabled().items()}

    def switch_to(self, site: str) -> float:
        """Send users of every port to `site`, cutting their connections to the other sites.

        Returns the seconds the switch took: from the first runtime command that changes a
        server to the last one (the check of the sections before it is not counted)."""
        if site not in self.sites:
            raise StackError(f"cannot switch to {site!r}: the front door's sites are {self.sites}")
        sections = self._checked_sections()
        others = [other for other in self.sites if other != site]
        started = time.monotonic()
        # The old sites stop taking new connections before the new one starts: for a moment
        # users are refused, never sent to both sites (two writable sites is a split brain).
        for section in sections:
            for other in others:
                self._command(f"set server {section}/{other} state maint")
        for section in sections:
            self._command(f"set server {section}/{site} state ready")
        # HAProxy keeps established connections to a server put in maintenance. Users' pools
        # (database, Redis) would go on talking to the old site through them, which hides a
        # failover from the drill (and writes to a site that is no longer primary): cut them,
        # so that clients reconnect, through the front door, to the new site.
        for section in sections:
            for other in others:
                self._command(f"shutdown sessions server {section}/{other}")
        return time.monotonic() - started

    def drain(self) -> None:
        """No site takes users: every new connection is closed, and established ones are cut
        (a planned switchover must not let a pooled connection write to the old primary)."""
        sections = self._checked_sections()
        for section in sections:
            for site in self.sites:
                self._command(f"set server {section}/{site} state maint")
        for section in sections:
            for site in self.sites:
                self._command(f"shutdown sessions server {section}/{site}")

    def _enabled(self) -> dict[str, tuple[str, ...]]:
        """{section: the servers taking new connections, sorted}."""
        return {
            section: tuple(sorted(server.name for server in servers if server.enabled))
            for section, servers in self._sections().items()
        }

    def _checked_sections(self) -> list[str]:
        # Checked before anything changes: a section lacking a site's server would otherwise
        # fail halfway through a switch, leaving some ports on each site.
        sections = self._sections()
        for section, servers in sections.items():
            names = sorted(server.name for server in servers)
            if names != sorted(self.sites):
                raise StackError(
                    f"front door section {section!r} has servers {names}, expected one per site "
                    f"{sorted(self.sites)} (is {self.admin_socket} the front door's socket?)"
                )
        return sorted(sections)

    def _sections(self) -> dict[str, list[_Server]]:
        """{section: its servers} for every section holding a server named after a site."""
        servers = _parse_servers_state(self._ask("show servers state"), self.admin_socket)
        sections: dict[str, list[_Server]] = {}
        for server in servers:
            sections.setdefault(server.section, []).append(server)
        found = {
            section: members
            for section, members in sorted(sections.items())
            if any(server.name in self.sites for server in members)
        }
        if not found:
            raise StackError(
                f"HAProxy at {self.admin_socket} has no section with a server named after the "
                f"sites {list(self.sites)}; is it the front door's admin socket?"
            )
        return found

    def _command(self, command: str) -> None:
        # A command that worked answers an empty line; anything else is HAProxy's complaint.
        answer = self._ask(command).strip()
        if answer:
            raise StackError(
                f"the front door ({self.admin_socket}) refused {command!r}: {answer[:200]}"
            )

    def _ask(self, command: str) -> str:
        try:
            return exchange(self.admin_socket, command + "\n", timeout=_TIMEOUT_SECONDS)
        except OSError as exc:  # refused, missing, timed out (socket.timeout is an OSError)
            raise StackError(
                f"the front door's admin socket is unreachable at {self.admin_socket} "
                f"({command!r}: {exc}); is the front door's HAProxy running?"
            ) from None


def _parse_servers_state(text: str, origin: Path) -> list[_Server]:
    """The servers in HAProxy's answer to `show servers state` (format version 1)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].strip() != "1" or not lines[1].startswith("# "):
        raise StackError(
            f"unexpected answer to 'show servers state' from {origin} "
            f"(expected format version 1): {text[:200]!r}"
        )
    columns = lines[1][2:].split()
    try:
        section_at = columns.index("be_name")
        name_at = columns.index("srv_name")
        admin_at = columns.index("srv_admin_state")
    except ValueError:
        raise StackError(
            f"'show servers state' from {origin} lacks be_name, srv_name or "
            f"srv_admin_state: {lines[1]!r}"
        ) from None
    servers = []
    for line in lines[2:]:
        fields = line.split()
        try:
            servers.append(_Server(fields[section_at], fields[name_at], int(fields[admin_at])))
        except (IndexError, ValueError):
            raise StackError(
                f"unreadable line in 'show servers state' from {origin}: {line!r}"
            ) from None
    return servers


def _describe(enabled: tuple[str, ...]) -> str:
    return "+".join(enabled) if enabled else NONE


def _check_site_names(sites: Sequence[str]) -> None:
    if not sites:
        raise StackError("a front door needs at least one site; none was given")
    for site in sites:
        # Site names are server names in the runtime API's commands: kept exactly, not
        # sanitised, so that `switch_to(site)` finds them.
        if not site or section_name(site) != site:
            raise StackError(
                f"site name {site!r} cannot name an HAProxy server; use letters, digits, "
                f"'_', '.' or '-' (e.g. 'primary', 'dr')"
            )


def _check_socket_path(path: Path) -> None:
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH_BYTES:
        raise StackError(
            f"admin socket path {path} is longer than {_MAX_SOCKET_PATH_BYTES} bytes, the "
            f"limit of a Unix socket's address; put it in a shorter directory"
        )
    if any(char.isspace() or char in "\"'#\\" for char in str(path)):
        raise StackError(
            f"admin socket path {str(path)!r} holds a space, quote, '#' or backslash, which "
            f"haproxy.cfg would misread; choose a plain path"
        )
