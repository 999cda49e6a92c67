"""Ship the primary site's WAL archive to the off-site store, file by file, as it fills.

    python -m drillbook.sites.wal_shipper --archive DIR --endpoint URL --bucket B --prefix P \\
        [--interval 0.5] [--state FILE]

It runs as a supervisord program inside the primary site. PostgreSQL's archive_command copies
each finished segment into the archive directory under a hidden temporary name and renames it
into place; this loop polls that directory every `interval` seconds and uploads what is new.
Polling (rather than shipping from archive_command itself) keeps the database's archiving
independent of the off-site link: a cut link stalls only the shipping, never PostgreSQL. The
RPO of a site loss is then about archive_timeout + interval.

An unreachable store is reported once per outage (on stderr) and retried every interval: the
shipper never dies of it. Every file confirmed off-site prints `shipped NAME` on stdout. Names
shipped are remembered in memory and, with --state, in a file (replaced atomically), so a
restart does not upload the whole archive again. SIGTERM or SIGINT stop it within an interval,
even in the middle of an upload (S3 writes an object whole or not at all), and it exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from drillbook.backup.errors import BackupError
from drillbook.sites.offsite import DEFAULT_BUCKET, OffsiteStore, WalConflict, is_archive_name
from drillbook.stack.services.postgres import ARCHIVE_TEMPORARY_PREFIX

DEFAULT_INTERVAL_SECONDS = 0.5
STATE_VERSION = 1


def _log(message: str) -> None:
    print(f"wal_shipper: {message}", file=sys.stderr, flush=True)


def shippable(name: str) -> bool:
    """A whole WAL archive file: not archive_command's copy in progress, not a stray file.

    The temporary prefix is checked on its own although no such name is a WAL name: a copy
    in progress must never be shipped, whatever names the archive accepts in the future.
    """
    return not name.startswith(ARCHIVE_TEMPORARY_PREFIX) and is_archive_name(name)


def pending(archive: Path, shipped: set[str]) -> list[str]:
    """The archive's whole WAL files not shipped yet, in name order (WAL order per timeline)."""
    with os.scandir(archive) as entries:
        names = [e.name for e in entries if e.is_file() and shippable(e.name)]
    return sorted(name for name in names if name not in shipped)


def ship_once(
    store: OffsiteStore,
    archive: Path,
    shipped: set[str],
    *,
    refused: set[str] | None = None,
) -> list[str]:
    """Push every pending file; returns those now off-site (uploaded, or there already).

    `shipped` is updated as each file goes, so a failure part-way (the store unreachable:
    BackupStoreUnreachable propagates) loses nothing done before it. A file the store refuses
    (WalConflict: another file of that name is there) is reported once, added to `refused` and
    skipped from then on: it must not stop the files after it from leaving the site.
    """
    refused = set() if refused is None else refused
    done: list[str] = []
    for name in pending(archive, shipped | refused):
        try:
            store.push_wal(archive / name, name)
        except WalConflict as exc:
            refused.add(name)
            _log(f"not shipping {name}: {exc}")
            continue
        shipped.add(name)
        done.append(name)
    return done


# --- the state file ---------------------------------------------------------------------------


def _state_owner(store: OffsiteStore) -> dict[str, str]:
    """Whose names a state file holds: another store's shipped names say nothing about this one."""
    return {"endpoint_url": store.endpoint_url, "bucket": store.bucket, "prefix": store.prefix}


def load_state(path: Path, store: OffsiteStore) -> set[str]:
    """The names a previous run shipped to this store; empty if none or unusable (which costs
    only a HEAD request per archived file: push_wal finds them off-site already)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        _log(f"ignoring the state file {path} ({exc}); checking every archived file again")
        return set()
    if not isinstance(data, dict) or data.get("store") != _state_owner(store):
        _log(f"the state file {path} is another store's or version's; checking every file again")
        return set()
    names = data.get("shipped", [])
    return {n for n in names if isinstance(n, str) and is_archive_name(n)}


def save_state(path: Path, store: OffsiteStore, shipped: set[str]) -> None:
    """Write the state file through a temporary file and a rename: never half a file."""
    data = {"version": STATE_VERSION, "store": _state_owner(store), "shipped": sorted(shipped)}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    temporary.replace(path)


# --- the loop ---------------------------------------------------------------------------------


class _Stop(BaseException):
    """Raised by the signal handler to abandon an upload or a wait (BaseException, so that no
    `except Exception` in boto3 or botocore's retries swallows it)."""


class _StopSignals:
    """SIGTERM/SIGINT: stop now while uploading or waiting, else at the next safe point.

    Raising from the handler is what interrupts a connect blocked on a cut link (up to the
    client's timeouts); the state file and stdout are written outside interruptible sections,
    so they are never left half-written.
    """

    # The _Stop raised by one signal can be lost: Python may run the handler inside a
    # finalizer ("Exception ignored in ...") or a library may swallow it and retry, and the
    # request then blocks until its read timeout (30 s). So, once stopping, SIGALRM raises it
    # again every REPEAT_SECONDS until the loop has left every interruptible section.
    REPEAT_SECONDS = 0.2

    def __init__(self) -> None:
        self.stopping = False
        self._interruptible = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGALRM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            signal.setitimer(signal.ITIMER_REAL, self.REPEAT_SECONDS, self.REPEAT_SECONDS)
        if self._interruptible:
            raise _Stop

    def stopped(self) -> None:
        """The loop is over: nothing interruptible any more, no more repeats. A repeat can
        still land before the flag is cleared (a _Stop raised out of a finally), so this is
        retried until it has run whole."""
        while True:
            try:
                self._interruptible = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                return
            except _Stop:
                continue

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        self._interruptible = True
        try:
            if self.stopping:  # a signal that came while not interruptible
                raise _Stop
            yield
        finally:
            self._interruptible = False


class _Outage:
    """Reports a problem once when it starts (or changes kind) and once when it ends."""

    def __init__(self) -> None:
        self.kind: str | None = None

    def failed(self, exc: Exception, archive: Path, interval: float) -> None:
        kind = type(exc).__name__
        if kind == self.kind:
            return
        self.kind = kind
        if isinstance(exc, BackupError):
            _log(f"{exc}; retrying every {interval:g}s")
        else:
            _log(
                f"cannot read the WAL archive {archive} ({exc}); expected the directory "
                f"archive_command copies into: check --archive. Retrying every {interval:g}s"
            )

    def succeeded(self) -> None:
        if self.kind is not None:
            _log("shipping again: the off-site store answers and the archive is readable")
            self.kind = None


def run(store: OffsiteStore, archive: Path, interval: float, state: Path | None) -> int:
    """Ship until SIGTERM/SIGINT; 0 when stopped."""
    signals = _StopSignals()
    signals.install()
    shipped = load_state(state, store) if state else set()
    saved = set(shipped)
    refused: set[str] = set()
    outage = _Outage()

    def checkpoint(before: set[str]) -> None:
        nonlocal saved
        for name in sorted(shipped - before):
            print(f"shipped {name}", flush=True)
        if state is not None and shipped != saved:
            save_state(state, store, shipped)
            saved = set(shipped)

    before = set(shipped)
    try:
        while not signals.stopping:
            try:
                with signals.interruptible():
                    ship_once(store, archive, shipped, refused=refused)
            except (BackupError, OSError) as exc:  # unreachable, no bucket, no archive yet
                outage.failed(exc, archive, interval)
            else:
                outage.succeeded()
            checkpoint(before)
            before = set(shipped)
            with signals.interruptible():
                time.sleep(interval)
    except _Stop:
        pass
    finally:
        signals.stopped()
    checkpoint(before)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m drillbook.sites.wal_shipper",
        description="Ship a PostgreSQL WAL archive directory to the off-site S3 store.",
    )
    parser.add_argument("--archive", type=Path, required=True, help="the WAL archive directory")
    parser.add_argument("--endpoint", required=True, help="the off-site store's S3 endpoint URL")
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument("--prefix", required=True, help="the deployment's key prefix")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_SECONDS,
        help="seconds between looks at the archive (default %(default)s)",
    )
    parser.add_argument("--state", type=Path, help="file remembering what was shipped")
    args = parser.parse_args(argv)
    if not args.interval > 0:
        parser.error(f"--interval must be a positive number of seconds, not {args.interval}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        store = OffsiteStore(endpoint_url=args.endpoint, bucket=args.bucket, prefix=args.prefix)
    except BackupError as exc:
        _log(str(exc))
        return 2
    return run(store, args.archive, args.interval, args.state)


if __name__ == "__main__":
    sys.exit(main())
