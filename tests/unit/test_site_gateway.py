"""A site's gateway, against a real HAProxy: <site address>:<port> -> 127.0.0.1:<port>.

127.0.0.2 stands for the site's address on the bridge, and a tiny TCP server on 127.0.0.1
for the site's service (in a deployment both live in the site's network namespace).
"""

from __future__ import annotations

import functools
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drillbook.errors import StackError
from drillbook.platforms.ports import free_ports, port_is_free
from drillbook.sites.gateway import render_site_gateway_conf
from drillbook.stack.binaries import require_binary
from tests.unit.greeting_server import GreetingServer

SITE_ADDRESS = "127.0.0.2"
WAIT_SECONDS = 5.0


@pytest.fixture
def work_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="dbk-gw-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _ports_free_on_both(count: int) -> list[int]:
    for _ in range(20):
        ports = free_ports(count)
        if all(port_is_free(port, SITE_ADDRESS) for port in ports):
            return ports
    raise AssertionError(f"no {count} ports free on both 127.0.0.1 and {SITE_ADDRESS}")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"haproxy exited ({process.returncode}) before {what}")
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {WAIT_SECONDS}s")


@pytest.fixture
def gateway(work_dir: Path) -> Iterator[dict[str, int]]:
    """A gateway for "postgres" (a service listening on 127.0.0.1) and "redis" (dead)."""
    postgres, redis = _ports_free_on_both(2)
    ports = {"postgres": postgres, "redis": redis}
    config = work_dir / "gateway.cfg"
    config.write_text(render_site_gateway_conf(SITE_ADDRESS, ports))
    log_path = work_dir / "haproxy.log"
    service = GreetingServer("127.0.0.1", postgres, "postgres on loopback")
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(require_binary("haproxy")), "-db", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            for port in ports.values():
                check = functools.partial(_accepts, SITE_ADDRESS, port)
                _wait_for(check, f"{SITE_ADDRESS}:{port}", process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_path.read_text()}") from None
        yield ports
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WAIT_SECONDS)
        service.close()


def _greeting(host: str, port: int) -> str:
    """The first line a new connection receives ("" if it is closed without one)."""
    with socket.create_connection((host, port), timeout=WAIT_SECONDS) as sock:
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    return data.decode().strip()


def test_the_site_address_reaches_the_service_on_loopback(gateway: dict[str, int]) -> None:
    assert _greeting(SITE_ADDRESS, gateway["postgres"]) == "postgres on loopback"


def test_a_dead_service_looks_dead_at_once(gateway: dict[str, int]) -> None:
    started = time.monotonic()
    assert _greeting(SITE_ADDRESS, gateway["redis"]) == ""
    # No retries, no health checks: closed at once, not after a turn-around timer or timeout.
    assert time.monotonic() - started < 0.9


def test_the_rendered_configuration_passes_haproxys_own_check(work_dir: Path) -> None:
    config = work_dir / "gateway.cfg"
    ports = {"proxy": 20001, "postgres": 20002, "app 0": 20003, "sentinel:1": 20004}
    config.write_text(render_site_gateway_conf("10.213.0.2", ports))
    result = subprocess.run(
        [str(require_binary("haproxy")), "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_port_binds_the_site_address_and_forwards_to_loopback() -> None:
    conf = render_site_gateway_conf("10.213.0.2", {"proxy": 20001, "postgres": 20002})
    sections = conf.split("\nlisten ")[1:]
    assert sections == [
        "postgres\n    bind 10.213.0.2:20002\n    server local 127.0.0.1:20002\n",
        "proxy\n    bind 10.213.0.2:20001\n    server local 127.0.0.1:20001\n",
    ]
    assert "mode tcp" in conf
    assert "timeout connect 1s" in conf
    for timeout in ("client", "server", "tunnel"):
        assert f"timeout {timeout} 1h" in conf
    assert re.search(r"^\s+maxconn \d+$", conf, re.MULTILINE)
    assert " check" not in conf


def test_the_rendering_is_deterministic_and_sanitises_section_names() -> None:
    ports = {"zeta": 20003, "app 0/x": 20001, "alpha": 20002}
    conf = render_site_gateway_conf("10.213.0.2", ports)
    assert render_site_gateway_conf("10.213.0.2", dict(reversed(ports.items()))) == conf
    names = [line.split()[1] for line in conf.splitlines() if line.startswith("listen ")]
    assert names == ["alpha", "app_0_x", "zeta"]


def test_an_ipv6_site_address_is_bracketed() -> None:
    conf = render_site_gateway_conf("fd00::2", {"proxy": 20001})
    assert "bind [fd00::2]:20001\n" in conf


@pytest.mark.parametrize(
    ("address", "ports", "message"),
    [
        ("site-a", {"proxy": 20001}, "'site-a' is not an IP address"),
        ("10.213.0.2", {}, "no ports"),
        ("10.213.0.2", {"a b": 20001, "a_b": 20002}, "'a b' and 'a_b'"),
        ("10.213.0.2", {"proxy": 20001, "redis": 20001}, "share port 20001"),
        ("10.213.0.2", {"proxy": 0}, "'proxy' is 0"),
        ("10.213.0.2", {"": 20001}, "port name is empty"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_with_the_reason(
    address: str, ports: dict[str, int], message: str
) -> None:
    with pytest.raises(StackError, match=re.escape(message)):
        render_site_gateway_conf(address, ports)
