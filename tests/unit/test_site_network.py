"""The two-site network (drillbook.sites.network) against real network namespaces.

Every test builds its own network: a fresh 6-hex run id and a private /24 in 10.214.0.0/16, so
nothing here can collide with a running deployment (10.213.0.0/24 by default) or with another
test; whatever a test made is removed with `network.remove(run_id)` whatever happens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drillbook.errors import StackError
from drillbook.sites import network
from drillbook.sites.namespace import InNamespace
from drillbook.sites.network import SiteNetwork
from drillbook.stack.binaries import require_binary

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
)

SITES = ("primary", "dr")
ATTEMPTS = 8
"""Random subnets tried before giving up (one may be taken by a leftover of another run)."""
PROBE_SECONDS = 1.0
"""One connection attempt: a cut link drops the SYN, so a refused probe takes this long."""
REACHABLE_SECONDS = 10.0
"""How long a healed link may take to carry a new connection (ARP, bridge port forwarding)."""


def _ip(*args: str) -> str:
    result = subprocess.run(
        [str(require_binary("ip")), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def _record_file(run_id: str) -> Path:
    return Path("/run/drillbook") / f"network-{run_id}.addresses"


def _create(
    sites: tuple[str, ...] = SITES, *, made: list[str]
) -> tuple[SiteNetwork, ipaddress.IPv4Network]:
    """A network on a free 10.214.<random>.0/24; its run id goes into `made` first, so the
    caller removes it even when creating it fails halfway."""
    last: StackError | None = None
    for _ in range(ATTEMPTS):
        run_id = secrets.token_hex(3)
        subnet = ipaddress.IPv4Network(f"10.214.{random.randint(0, 255)}.0/24")
        made.append(run_id)
        try:
            return network.create_network(run_id, str(subnet), list(sites)), subnet
        except StackError as exc:
            if "overlaps" not in str(exc):
                raise
            last = exc
    raise AssertionError(f"no free 10.214.x.0/24 subnet in {ATTEMPTS} attempts: {last}")


@pytest.fixture
def made() -> Iterator[list[str]]:
    """Run ids this test created networks for: all removed at teardown."""
    run_ids: list[str] = []
    yield run_ids
    for run_id in run_ids:
        network.remove(run_id)


@pytest.fixture
def net(made: list[str]) -> SiteNetwork:
    return _create(made=made)[0]


@pytest.fixture
def inside(net: SiteNetwork) -> Iterator[dict[str, InNamespace]]:
    """A worker thread in each site's namespace."""
    workers = {site: InNamespace(net.link(site).namespace) for site in SITES}
    yield workers
    for worker in workers.values():
        worker.close()


class Server:
    """A TCP server that greets each connection with its own token, then closes it.

    The listening socket is created by `create` (in a namespace, when run there): a socket
    belongs to the namespace it was created in, whichever thread accepts on it.
    """

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.port = int(listener.getsockname()[1])
        self.greeting = f"drillbook-test-{secrets.token_hex(4)}\n".encode()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def listen(host: str) -> socket.socket:
        last: OSError | None = None
        for _ in range(20):
            # A fixed range below the ephemeral ports, as the stack's own ports are.
            try:
                listener = socket.create_server((host, random.randint(20000, 32000)))
            except OSError as exc:
                last = exc
                continue
            listener.settimeout(0.2)
            return listener
        raise AssertionError(f"no free port on {host}: {last}")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection, contextlib.suppress(OSError):
                connection.sendall(self.greeting)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def servers() -> Iterator[Callable[[InNamespace | None, str], Server]]:
    """`serve(where, host)`: a greeting server on `host`, in a site (an InNamespace) or, with
    None, in the root namespace."""
    started: list[Server] = []

    def serve(where: InNamespace | None, host: str) -> Server:
        listener = where.run(Server.listen, host) if where else Server.listen(host)
        server = Server(listener)
        started.append(server)
        return server

    yield serve
    for server in started:
        server.close()


def _greeted(host: str, port: int) -> bytes:
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS) as conn:
            conn.settimeout(PROBE_SECONDS)
            return conn.recv(64)
    except OSError:
        return b""


def reaches(where: InNamespace | None, server: Server, host: str) -> bool:
    """One connection attempt from `where` (a site, or None: the root namespace)."""
    greeting = where.run(_greeted, host, server.port) if where else _greeted(host, server.port)
    return greeting == server.greeting


def eventually_reaches(where: InNamespace | None, server: Server, host: str) -> bool:
    deadline = time.monotonic() + REACHABLE_SECONDS
    for _ in range(int(REACHABLE_SECONDS / 0.1)):
        if reaches(where, server, host):
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return False


def _root_blackholes() -> str:
    return _ip("route", "show", "type", "blackhole")


def _has_blackhole(routes: str, address: str) -> bool:
    return any(line.split()[1:2] == [address] for line in routes.splitlines())


# --- creation and removal ------------------------------------------------------------------------


def test_create_network_makes_a_namespace_per_site_and_a_bridge(made: list[str]) -> None:
    net, subnet = _create(made=made)
    run_id = net.run_id
    hosts = list(subnet.hosts())
    assert net.gateway_address == str(hosts[0])
    assert [net.address(site) for site in SITES] == [str(hosts[1]), str(hosts[2])]
    namespaces = {net.link(site).namespace for site in SITES}
    assert namespaces == {f"drillbook-{run_id}-{site}" for site in SITES}

    found = network.leftovers(run_id)
    expected = namespaces | {net.bridge} | {net.link(site).host_interface for site in SITES}
    assert set(found) == expected, found
    listed = _ip("netns", "list")
    assert all(ns in listed for ns in namespaces), listed
    assert f"{net.gateway_address}/24" in _ip("-o", "addr", "show", "dev", net.bridge)
    for site in SITES:
        link = net.link(site)
        assert f"master {net.bridge}" in _ip("-o", "link", "show", link.host_interface)
        in_site = _ip("netns", "exec", link.namespace, "ip", "-o", "-4", "addr", "show")
        assert any(
            line.split()[1] == link.site_interface and f"inet {link.address}/24" in line
            for line in in_site.splitlines()
        ), in_site
        assert not net.is_isolated(site)
    assert _record_file(run_id).read_text().split() == [net.address(s) for s in SITES]

    net.destroy()
    assert network.leftovers(run_id) == []
    assert not any(ns in _ip("netns", "list") for ns in namespaces)
    assert not _record_file(run_id).exists()


def test_a_failed_create_removes_what_it_made(made: list[str]) -> None:
    # The second site's namespace already exists (same name): creation fails halfway.
    with pytest.raises(StackError, match="netns add"):
        _create(("twin", "twin"), made=made)
    assert network.leftovers(made[-1]) == []
    assert not _record_file(made[-1]).exists()


def test_a_subnet_too_small_for_the_sites_is_refused(made: list[str]) -> None:
    run_id = secrets.token_hex(3)
    made.append(run_id)
    with pytest.raises(StackError, match=r"10\.214\.9\.0/30: too small for 2 sites"):
        network.create_network(run_id, "10.214.9.0/30", list(SITES))
    assert network.leftovers(run_id) == []


@pytest.mark.parametrize(
    "shape",
    ["same", "inside", "around"],
    ids=["the same /24", "a /25 inside it", "a /23 around it"],
)
def test_an_overlapping_subnet_is_refused_naming_the_overlap(made: list[str], shape: str) -> None:
    first, subnet = _create(made=made)
    before = sorted(network.leftovers(first.run_id))
    other: ipaddress.IPv4Network = {
        "same": subnet,
        "inside": next(subnet.subnets(new_prefix=25)),
        "around": subnet.supernet(new_prefix=23),
    }[shape]
    second = secrets.token_hex(3)
    made.append(second)
    with pytest.raises(StackError) as refused:
        network.create_network(second, str(other), list(SITES))
    message = str(refused.value)
    assert f"sites.subnet {other} overlaps {subnet} on interface {first.bridge}" in message
    assert network.leftovers(second) == []
    assert not _record_file(second).exists()
    # The first network is untouched.
    assert sorted(network.leftovers(first.run_id)) == before


@pytest.mark.parametrize("run_id", ["ABC123", "abc12", "abc1234", "abc12g", "../../x", ""])
def test_a_bad_run_id_is_refused(run_id: str) -> None:
    with pytest.raises(StackError, match="expected 6 lowercase hex digits"):
        network.create_network(run_id, "10.216.8.0/24", list(SITES))
    with pytest.raises(StackError, match="expected 6 lowercase hex digits"):
        network.remove(run_id)
    assert "10.216.8." not in _ip("-o", "addr", "show")


def test_removing_a_run_that_does_not_exist_is_a_no_op(net: SiteNetwork) -> None:
    before = sorted(network.leftovers(net.run_id))
    absent = secrets.token_hex(3)
    while absent == net.run_id:
        absent = secrets.token_hex(3)
    network.remove(absent)
    network.remove(absent)
    assert sorted(network.leftovers(net.run_id)) == before
    # And removing a run twice: the second time there is nothing left to remove.
    net.destroy()
    net.destroy()
    assert network.leftovers(net.run_id) == []


# --- reachability --------------------------------------------------------------------------------


def test_a_server_in_one_site_is_reachable_from_the_other_site_and_from_root(
    net: SiteNetwork,
    inside: dict[str, InNamespace],
    servers: Callable[[InNamespace | None, str], Server],
) -> None:
    primary = net.address("primary")
    server = servers(inside["primary"], primary)
    assert eventually_reaches(inside["dr"], server, primary)
    assert eventually_reaches(None, server, primary)
    # The server lives in the site: its address is not one of the root namespace's.
    assert primary not in _ip("-o", "addr", "show")


def test_isolate_cuts_the_site_off_from_both_and_reconnect_restores(
    net: SiteNetwork,
    inside: dict[str, InNamespace],
    servers: Callable[[InNamespace | None, str], Server],
) -> None:
    primary = net.address("primary")
    server = servers(inside["primary"], primary)
    assert eventually_reaches(inside["dr"], server, primary)
    assert eventually_reaches(None, server, primary)

    net.isolate("primary")
    assert net.is_isolated("primary")
    assert not net.is_isolated("dr")
    assert not reaches(inside["dr"], server, primary)
    assert not reaches(None, server, primary)
    # The site lives on: its server still answers on its own side of the cut.
    assert reaches(inside["primary"], server, primary)

    net.reconnect("primary")
    assert not net.is_isolated("primary")
    assert eventually_reaches(inside["dr"], server, primary)
    assert eventually_reaches(None, server, primary)


def test_cut_between_blocks_site_to_site_only_and_heal_restores(
    net: SiteNetwork,
    inside: dict[str, InNamespace],
    servers: Callable[[InNamespace | None, str], Server],
) -> None:
    primary, dr = net.address("primary"), net.address("dr")
    on_primary = servers(inside["primary"], primary)
    on_dr = servers(inside["dr"], dr)
    assert eventually_reaches(inside["dr"], on_primary, primary)
    assert eventually_reaches(inside["primary"], on_dr, dr)

    net.cut_between("primary", "dr")
    assert not reaches(inside["dr"], on_primary, primary)
    assert not reaches(inside["primary"], on_dr, dr)
    assert reaches(None, on_primary, primary)
    assert reaches(None, on_dr, dr)
    # Only the sites' routes: the root namespace has no blackhole for either site.
    routes = _root_blackholes()
    assert not _has_blackhole(routes, primary) and not _has_blackhole(routes, dr), routes

    net.heal_between("primary", "dr")
    assert eventually_reaches(inside["dr"], on_primary, primary)
    assert eventually_reaches(inside["primary"], on_dr, dr)
    net.heal_between("primary", "dr")  # healing twice is harmless


def test_cut_from_users_blocks_root_to_site_only_and_reconnect_users_restores(
    net: SiteNetwork,
    inside: dict[str, InNamespace],
    servers: Callable[[InNamespace | None, str], Server],
) -> None:
    primary = net.address("primary")
    on_primary = servers(inside["primary"], primary)
    on_root = servers(None, net.gateway_address)
    assert eventually_reaches(None, on_primary, primary)
    assert eventually_reaches(inside["primary"], on_root, net.gateway_address)
    assert eventually_reaches(inside["dr"], on_primary, primary)

    net.cut_from_users("primary")
    assert not reaches(None, on_primary, primary)
    assert not reaches(inside["primary"], on_root, net.gateway_address)
    assert reaches(inside["dr"], on_primary, primary)
    # The other site is not cut off from users.
    assert reaches(inside["dr"], on_root, net.gateway_address)
    assert _has_blackhole(_root_blackholes(), primary)

    net.reconnect_users("primary")
    assert not _has_blackhole(_root_blackholes(), primary)
    assert eventually_reaches(None, on_primary, primary)
    assert eventually_reaches(inside["primary"], on_root, net.gateway_address)
    net.reconnect_users("primary")  # reconnecting twice is harmless


def test_remove_deletes_the_root_blackhole_routes_of_a_partition(net: SiteNetwork) -> None:
    net.cut_from_users("primary")
    net.cut_from_users("dr")
    routes = _root_blackholes()
    assert _has_blackhole(routes, net.address("primary")), routes
    assert _has_blackhole(routes, net.address("dr")), routes

    network.remove(net.run_id)
    routes = _root_blackholes()
    assert not _has_blackhole(routes, net.address("primary")), routes
    assert not _has_blackhole(routes, net.address("dr")), routes
    assert network.leftovers(net.run_id) == []
