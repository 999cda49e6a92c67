"""Free loopback ports below 32768.

Port 0 would give an ephemeral port (32768-60999 here), which the kernel may hand to an
outgoing connection before our server binds it; so ports are drawn from a private range.
"""

from __future__ import annotations

import random
import socket

from drillbook.errors import StackError

LOW, HIGH = 20000, 32000


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(
    count: int, *, host: str = "127.0.0.1", rng: random.Random | None = None
) -> list[int]:
    """`count` distinct ports that were free when checked."""
    chooser = rng or random.Random()
    chosen: list[int] = []
    for _ in range(count * 50):
        port = chooser.randint(LOW, HIGH)
        if port not in chosen and port_is_free(port, host):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise StackError(f"could not find {count} free loopback ports in {LOW}-{HIGH}")
