"""The front door of a two-site deployment, against a real HAProxy and two stand-in sites.

Each "site" is a tiny TCP server per port on its own loopback address (127.0.0.2 for primary,
127.0.0.3 for dr) that greets every connection with "<site> <port name>"; the front door
listens on 127.0.0.1 with the same ports, as it does in the root namespace of a deployment.
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
from dataclasses import dataclass
from pathlib import Path

import pytest

from drillbook.errors import StackError
from drillbook.platforms.ports import free_ports, port_is_free
from drillbook.sites.front_door import FrontDoor, render_front_door_conf
from drillbook.stack.binaries import require_binary
from tests.unit.greeting_server import GreetingServer

SITES = {"primary": "127.0.0.2", "dr": "127.0.0.3"}
PORT_NAMES = ("proxy", "postgres", "app-0")
WAIT_SECONDS = 5.0


@dataclass
class RunningFrontDoor:
    door: FrontDoor
    ports: dict[str, int]
    socket_path: Path
    process: subprocess.Popen[bytes]


def _ports_free_everywhere(count: int) -> dict[str, int]:
    # free_ports checks 127.0.0.1 (the front door); the sites bind the same ports elsewhere.
    for _ in range(20):
        ports = free_ports(count)
        if all(port_is_free(p, host) for p in ports for host in SITES.values()):
            return dict(zip(PORT_NAMES[:count], ports, strict=True))
    raise AssertionError("no ports free on 127.0.0.1, 127.0.0.2 and 127.0.0.3 alike")


def _wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"haproxy exited ({process.returncode}) before {what}")
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {WAIT_SECONDS}s")


def _socket_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"show info\n")
            return b"Name:" in sock.recv(4096)
    except OSError:
        return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A Unix socket's path is limited to 107 bytes; pytest's tmp_path can be longer.
    directory = Path(tempfile.mkdtemp(prefix="dbk-fd-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def sites() -> Iterator[dict[str, int]]:
    """The two stand-in sites, every port of each greeting with its site's and port's name."""
    ports = _ports_free_everywhere(len(PORT_NAMES))
    servers: list[GreetingServer] = []
    try:
        for site, address in SITES.items():
            for name, port in ports.items():
                servers.append(GreetingServer(address, port, f"{site} {name}"))
        yield ports
    finally:
        for server in servers:
            server.close()


def _start_front_door(
    directory: Path, ports: dict[str, int], active: str | None
) -> subprocess.Popen[bytes]:
    socket_path = directory / "admin.sock"
    config = directory / "front-door.cfg"
    config.write_text(render_front_door_conf(ports, SITES, active, socket_path))
    log = (directory / "haproxy.log").open("wb")
    try:
        process = subprocess.Popen(
            [str(require_binary("haproxy")), "-db", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def front_door_factory(
    short_dir: Path, sites: dict[str, int]
) -> Iterator[Callable[[str | None], RunningFrontDoor]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(active: str | None) -> RunningFrontDoor:
        process = _start_front_door(short_dir, sites, active)
        processes.append(process)
        socket_path = short_dir / "admin.sock"
        try:
            _wait_for(lambda: _socket_answers(socket_path), "the admin socket", process)
            for port in sites.values():
                _wait_for(functools.partial(_listening, port), f"127.0.0.1:{port}", process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(short_dir / 'haproxy.log').read_text()}") from None
        return RunningFrontDoor(FrontDoor(socket_path, list(SITES)), sites, socket_path, process)

    try:
        yield start
    finally:
        for process in processes:
            _stop(process)


@pytest.fixture
def front_door(
    front_door_factory: Callable[[str | None], RunningFrontDoor],
) -> RunningFrontDoor:
    return front_door_factory("primary")


def _greeting(port: int) -> str:
    """What a new connection through the front door to `port` is greeted with ("" if closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
        return _read_line(sock)


def _read_line(sock: socket.socket) -> str:
    sock.settimeout(WAIT_SECONDS)
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


def _closed(sock: socket.socket) -> bool:
    """The other end closed `sock` (which has nothing left to read) within WAIT_SECONDS."""
    sock.settimeout(WAIT_SECONDS)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _greetings(ports: dict[str, int]) -> dict[str, str]:
    return {name: _greeting(port) for name, port in ports.items()}


def _send(path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer.decode()


# --- the rendered configuration ---------------------------------------------------------------


def test_the_rendered_configuration_passes_haproxys_own_check(short_dir: Path) -> None:
    config = short_dir / "front-door.cfg"
    ports = {"proxy": 20001, "postgres": 20002, "app 0": 20003}
    config.write_text(render_front_door_conf(ports, SITES, "dr", short_dir / "admin.sock"))
    result = subprocess.run(
        [str(require_binary("haproxy")), "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_port_has_a_section_with_one_server_per_site_and_only_the_active_one_enabled() -> (
    None
):
    conf = render_front_door_conf(
        {"proxy": 20001, "postgres": 20002}, SITES, "primary", Path("/run/fd/admin.sock")
    )
    assert "stats socket /run/fd/admin.sock mode 600 level admin" in conf
    assert "mode tcp" in conf
    assert "timeout connect 1s" in conf
    for timeout in ("client", "server", "tunnel"):
        assert f"timeout {timeout} 1h" in conf
    assert " check" not in conf  # no health checks: the front door never fails over alone
    sections = conf.split("\nlisten ")[1:]
    assert [section.split("\n")[0] for section in sections] == ["postgres", "proxy"]
    proxy = sections[1]
    assert "bind 127.0.0.1:20001" in proxy
    assert "server primary 127.0.0.2:20001\n" in proxy
    assert "server dr 127.0.0.3:20001 disabled\n" in proxy


def test_a_drained_configuration_disables_every_server() -> None:
    conf = render_front_door_conf({"proxy": 20001}, SITES, None, Path("/run/fd/admin.sock"))
    servers = [line for line in conf.splitlines() if line.strip().startswith("server ")]
    assert len(servers) == 2
    assert all(line.endswith(" disabled") for line in servers)


def test_the_rendering_is_deterministic_and_sanitises_section_names() -> None:
    ports = {"zeta": 20003, "app 0/x": 20001, "alpha": 20002}
    conf = render_front_door_conf(ports, SITES, "dr", Path("/run/fd/admin.sock"))
    reordered = dict(reversed(ports.items()))
    assert render_front_door_conf(reordered, SITES, "dr", Path("/run/fd/admin.sock")) == conf
    names = [line.split()[1] for line in conf.splitlines() if line.startswith("listen ")]
    assert names == ["alpha", "app_0_x", "zeta"]


@pytest.mark.parametrize(
    ("ports", "sites", "active", "socket_path", "message"),
    [
        ({"proxy": 20001}, SITES, "elsewhere", "/run/a.sock", "active site 'elsewhere'"),
        ({"proxy": 20001}, {"pri mary": "127.0.0.2"}, None, "/run/a.sock", "'pri mary'"),
        ({"proxy": 20001}, {"primary": "localhost"}, None, "/run/a.sock", "'localhost'"),
        ({"a b": 20001, "a_b": 20002}, SITES, None, "/run/a.sock", "'a b' and 'a_b'"),
        ({"proxy": 20001, "redis": 20001}, SITES, None, "/run/a.sock", "share port 20001"),
        ({"proxy": 70000}, SITES, None, "/run/a.sock", "'proxy' is 70000"),
        ({}, SITES, None, "/run/a.sock", "no ports"),
        ({"proxy": 20001}, SITES, None, "/" + "d" * 120 + "/a.sock", "longer than 107"),
        ({"proxy": 20001}, SITES, None, "/run/my dir/a.sock", "space"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_with_the_reason(
    ports: dict[str, int],
    sites: dict[str, str],
    active: str | None,
    socket_path: str,
    message: str,
) -> None:
    with pytest.raises(StackError, match=re.escape(message)):
        render_front_door_conf(ports, sites, active, Path(socket_path))


# --- the running front door -------------------------------------------------------------------


def test_users_reach_the_active_site_on_every_port(front_door: RunningFrontDoor) -> None:
    assert _greetings(front_door.ports) == {name: f"primary {name}" for name in front_door.ports}
    assert front_door.door.active() == "primary"
    assert front_door.door.describe() == {
        name: "primary" for name in ("app-0", "postgres", "proxy")
    }


def test_switch_to_moves_every_port_at_once(front_door: RunningFrontDoor) -> None:
    took = front_door.door.switch_to("dr")

    assert 0 <= took < WAIT_SECONDS
    assert _greetings(front_door.ports) == {name: f"dr {name}" for name in front_door.ports}
    assert front_door.door.active() == "dr"
    assert set(front_door.door.describe().values()) == {"dr"}

    front_door.door.switch_to("primary")
    assert _greetings(front_door.ports) == {name: f"primary {name}" for name in front_door.ports}
    assert front_door.door.active() == "primary"


def test_switching_to_the_active_site_changes_nothing(front_door: RunningFrontDoor) -> None:
    front_door.door.switch_to("primary")
    front_door.door.switch_to("primary")
    assert front_door.door.active() == "primary"
    assert _greetings(front_door.ports) == {name: f"primary {name}" for name in front_door.ports}


def test_switch_to_closes_established_connections_to_the_old_site(
    front_door: RunningFrontDoor,
) -> None:
    port = front_door.ports["postgres"]
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as pooled:
        assert _read_line(pooled) == "primary postgres"

        front_door.door.switch_to("dr")

        # The site's server holds the connection open: only the front door can have closed it.
        assert _closed(pooled), "the pooled connection to the old site is open after switch_to"
    assert _greeting(port) == "dr postgres"


def test_drain_refuses_every_port_and_closes_established_connections(
    front_door: RunningFrontDoor,
) -> None:
    with socket.create_connection(("127.0.0.1", front_door.ports["proxy"]), timeout=5) as pooled:
        assert _read_line(pooled) == "primary proxy"

        front_door.door.drain()

        assert _closed(pooled), "a pooled connection to the old site is open after drain"
    assert front_door.door.active() is None
    assert set(front_door.door.describe().values()) == {"none"}
    started = time.monotonic()
    assert _greetings(front_door.ports) == {name: "" for name in front_door.ports}
    assert time.monotonic() - started < WAIT_SECONDS  # closed at once, not after a timeout

    front_door.door.switch_to("dr")
    assert _greetings(front_door.ports) == {name: f"dr {name}" for name in front_door.ports}


def test_a_front_door_started_drained_reports_no_active_site(
    front_door_factory: Callable[[str | None], RunningFrontDoor],
) -> None:
    running = front_door_factory(None)
    assert running.door.active() is None
    assert _greeting(running.ports["proxy"]) == ""
    running.door.switch_to("dr")
    assert running.door.active() == "dr"
    assert _greeting(running.ports["proxy"]) == "dr proxy"


def test_active_names_the_sections_when_they_disagree(front_door: RunningFrontDoor) -> None:
    # Half a switch, done by hand: only the postgres section moves to dr.
    assert _send(front_door.socket_path, "set server postgres/primary state maint").strip() == ""
    assert _send(front_door.socket_path, "set server postgres/dr state ready").strip() == ""

    with pytest.raises(StackError, match="disagree") as raised:
        front_door.door.active()
    assert "dr in postgres" in str(raised.value)
    assert "primary in app-0, proxy" in str(raised.value)
    assert front_door.door.describe() == {"app-0": "primary", "postgres": "dr", "proxy": "primary"}


def test_active_refuses_a_front_door_sending_users_to_both_sites(
    front_door: RunningFrontDoor,
) -> None:
    for name in front_door.ports:
        assert _send(front_door.socket_path, f"set server {name}/dr state ready").strip() == ""
    with pytest.raises(StackError, match="several sites at once"):
        front_door.door.active()
    assert set(front_door.door.describe().values()) == {"dr+primary"}


def test_a_site_drained_by_hand_is_not_active(front_door: RunningFrontDoor) -> None:
    # HAProxy's own drain state (no new connections) counts as not enabled, like maintenance.
    for name in front_door.ports:
        assert _send(front_door.socket_path, f"set server {name}/primary state drain") == "\n"
    assert front_door.door.active() is None
    assert _greetings(front_door.ports) == {name: "" for name in front_door.ports}


def test_switching_to_an_unknown_site_changes_nothing(front_door: RunningFrontDoor) -> None:
    with pytest.raises(StackError, match="'elsewhere'"):
        front_door.door.switch_to("elsewhere")
    assert front_door.door.active() == "primary"


def test_a_front_door_missing_a_sites_server_is_refused_before_anything_changes(
    front_door: RunningFrontDoor,
) -> None:
    door = FrontDoor(front_door.socket_path, ["primary", "dr", "third"])
    with pytest.raises(StackError, match="expected one per site"):
        door.switch_to("dr")
    assert front_door.door.active() == "primary"


def test_an_unreachable_admin_socket_is_named(short_dir: Path) -> None:
    missing = short_dir / "nobody-here.sock"
    door = FrontDoor(missing, list(SITES))
    for action in (door.active, door.describe, door.drain, lambda: door.switch_to("dr")):
        with pytest.raises(StackError, match="admin socket is unreachable") as raised:
            action()
        assert str(missing) in str(raised.value)


@pytest.mark.parametrize("sites", [[], ["primary", "primary"], ["pri/mary"]])
def test_a_front_door_needs_distinct_plain_site_names(sites: list[str]) -> None:
    with pytest.raises(StackError):
        FrontDoor(Path("/run/a.sock"), sites)
