"""Small readiness checks for the stack's processes (not the drill's probes)."""

from __future__ import annotations

from collections.abc import Callable

import httpx


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def http_ready(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)
