"""Running drillbook's own code inside a site's network namespace.

A site's services listen on 127.0.0.1 of their namespace, exactly as the one-site embedded stack
does on the machine's. Rather than teach every service, readiness check and backup routine a
second address, the runner enters the namespace: Linux keeps the network namespace per thread,
so a worker thread that called setns(2) opens its sockets (and starts its subprocesses and
threads) inside the site, and the same code that drives the one-site stack drives a site.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from drillbook.errors import StackError

CLONE_NEWNET = 0x40000000
NAMESPACE_DIR = Path("/run/netns")

T = TypeVar("T")


def _enter(namespace: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    path = NAMESPACE_DIR / namespace
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise StackError(
            f"network namespace {namespace} is gone ({path}: {exc.strerror})"
        ) from None
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise StackError(
                f"could not enter network namespace {namespace}: {os.strerror(errno)} "
                "(entering a namespace needs root or CAP_SYS_ADMIN)"
            )
    finally:
        os.close(fd)


class InNamespace:
    """One worker thread living inside a network namespace; `run` executes a call there."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._entry_error: StackError | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"netns-{namespace}",
            initializer=self._enter,
        )

    def _enter(self) -> None:
        # An initializer that raises breaks the pool with a generic error and logs a traceback:
        # the reason is kept instead, and every call refuses to run outside the namespace.
        try:
            _enter(self.namespace)
        except StackError as exc:
            self._entry_error = exc

    def run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        def guarded() -> T:
            if self._entry_error is not None:
                raise self._entry_error
            return call(*args, **kwargs)

        return self._pool.submit(guarded).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
