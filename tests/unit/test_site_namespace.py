"""InNamespace (drillbook.sites.namespace): code run through it lives in the site's namespace.

Each test builds its own two-site network (a fresh run id, a private /24 in 10.214.0.0/16) and
removes it with `network.remove(run_id)` whatever happens.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from drillbook.errors import StackError
from drillbook.sites import network
from drillbook.sites.namespace import InNamespace
from drillbook.sites.network import SiteNetwork
from drillbook.stack.binaries import require_binary

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
)

ATTEMPTS = 8


@pytest.fixture
def net() -> Iterator[SiteNetwork]:
    made: list[str] = []
    try:
        created: SiteNetwork | None = None
        for _ in range(ATTEMPTS):
            run_id = secrets.token_hex(3)
            subnet = ipaddress.IPv4Network(f"10.214.{random.randint(0, 255)}.0/24")
            made.append(run_id)
            try:
                created = network.create_network(run_id, str(subnet), ["primary", "dr"])
                break
            except StackError as exc:
                if "overlaps" not in str(exc):
                    raise
        assert created is not None, f"no free 10.214.x.0/24 subnet in {ATTEMPTS} attempts"
        yield created
    finally:
        for run_id in made:
            network.remove(run_id)


@pytest.fixture
def primary(net: SiteNetwork) -> Iterator[InNamespace]:
    worker = InNamespace(net.link("primary").namespace)
    yield worker
    worker.close()


def _netns() -> str:
    """The network namespace of the calling thread, as the kernel names it ('net:[<inode>]')."""
    return os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")


def _named_netns(namespace: str) -> str:
    return f"net:[{os.stat(f'/run/netns/{namespace}').st_ino}]"


def _interfaces_by_ip() -> str:
    return subprocess.run(
        [str(require_binary("ip")), "-br", "addr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def _interface_names() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def test_the_worker_thread_is_in_the_site_namespace_and_the_caller_is_not(
    net: SiteNetwork, primary: InNamespace
) -> None:
    root = _netns()
    assert primary.run(_netns) == _named_netns(net.link("primary").namespace)
    assert _netns() == root != _named_netns(net.link("primary").namespace)


def test_a_subprocess_started_inside_sees_the_site_interfaces_only(
    net: SiteNetwork, primary: InNamespace
) -> None:
    link = net.link("primary")
    listed = primary.run(_interfaces_by_ip)
    names = {line.split()[0].split("@")[0] for line in listed.splitlines() if line.strip()}
    assert names == {"lo", link.site_interface}, listed
    assert f"{link.address}/24" in listed
    # Neither the bridge nor the other site's interface, nor the machine's own.
    assert net.bridge not in listed
    assert net.link("dr").site_interface not in listed


def test_sockets_created_inside_see_the_site_interfaces_and_addresses(
    net: SiteNetwork, primary: InNamespace
) -> None:
    link = net.link("primary")
    assert primary.run(_interface_names) == {"lo", link.site_interface}
    assert net.bridge in _interface_names()

    def bind(address: str) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, 0))
            except OSError as exc:
                return exc.errno or -1
        return 0

    # The site's address exists inside only; the gateway address in the root namespace only.
    assert primary.run(bind, link.address) == 0
    assert bind(link.address) == errno.EADDRNOTAVAIL
    assert primary.run(bind, net.gateway_address) == errno.EADDRNOTAVAIL
    assert bind(net.gateway_address) == 0


def test_a_thread_started_from_inside_is_inside_too(net: SiteNetwork, primary: InNamespace) -> None:
    def from_a_new_thread() -> tuple[str, set[str]]:
        seen: list[tuple[str, set[str]]] = []
        thread = threading.Thread(target=lambda: seen.append((_netns(), _interface_names())))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive() and len(seen) == 1
        return seen[0]

    netns, interfaces = primary.run(from_a_new_thread)
    assert netns == _named_netns(net.link("primary").namespace)
    assert interfaces == {"lo", net.link("primary").site_interface}


def test_calls_run_one_after_the_other_on_the_same_thread(primary: InNamespace) -> None:
    first = primary.run(threading.get_native_id)
    assert [primary.run(threading.get_native_id) for _ in range(5)] == [first] * 5
    assert primary.run(lambda a, b=0: a + b, 2, b=3) == 5


def test_an_exception_inside_reaches_the_caller(primary: InNamespace) -> None:
    def fail() -> None:
        raise StackError("raised inside the site")

    with pytest.raises(StackError, match="raised inside the site"):
        primary.run(fail)
    # The worker survives its call's exception.
    assert primary.run(lambda: 42) == 42


def test_a_missing_namespace_is_one_clear_stack_error() -> None:
    missing = f"drillbook-{secrets.token_hex(3)}-missing"
    assert not os.path.exists(f"/run/netns/{missing}")
    worker = InNamespace(missing)
    try:
        with pytest.raises(StackError, match=rf"network namespace {missing} is gone"):
            worker.run(lambda: None)
    finally:
        worker.close()
