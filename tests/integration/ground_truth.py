"""Reading the reference service's own record of its first served request (ground truth)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drillbook.core.platform import Platform

_LINE = re.compile(
    r"drillbook-ground-truth first_served_request replica=(?P<replica>\S+) pid=(?P<pid>\d+) "
    r"monotonic=(?P<monotonic>[0-9.]+)"
)


@dataclass(frozen=True)
class FirstServed:
    replica: str
    pid: int
    monotonic: float


def first_served(platform: Platform, component: str) -> list[FirstServed]:
    """The first-served records of the replicas running now (their current processes)."""
    current = {r.name: r.pid for r in platform.replicas(component) if r.running}
    found: list[FirstServed] = []
    for replica, text in platform.log_tail(component, lines=400).items():
        for match in _LINE.finditer(text):
            pid = int(match["pid"])
            if current.get(replica) == pid:
                found.append(FirstServed(match["replica"], pid, float(match["monotonic"])))
    return found
