"""PostgreSQL tools for backups and restores: the binaries, the server's user, scratch servers.

A restore is built in a scratch cluster, a second postmaster started here on a free loopback
port, owned by this process and stopped by its own PID file (`pg_ctl stop`), never by name.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from drillbook.backup.errors import RestoreFailed
from drillbook.core.polling import poll_until
from drillbook.stack.binaries import require_binary

SERVER_USER = "postgres"
_POLL_SECONDS = 0.1


def server_user() -> str | None:
    """The user PostgreSQL runs as: "postgres" when we are root (it refuses root), else us."""
    return SERVER_USER if os.geteuid() == 0 else None


def as_server_user(command: Sequence[str]) -> list[str]:
    """`command` run as the server's user (through runuser when we are root)."""
    user = server_user()
    if not user:
        return list(command)
    return [str(require_binary("runuser")), "-u", user, "--", *command]


def chown_to_server_user(path: Path) -> None:
    """Give a directory we created to the server's user (no-op when that is us)."""
    user = server_user()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def pg_tool(pg_bin: Path, name: str) -> Path:
    """A PostgreSQL client or server program beside `postgres`, or how to install it."""
    return require_binary(name, first=[pg_bin])


def copy_tree(source: Path, target: Path) -> None:
    """Copy a directory keeping owners and modes (a data directory must stay the server's)."""
    result = subprocess.run(
        [str(require_binary("cp")), "-a", str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RestoreFailed(f"could not copy {source} to {target}: {result.stderr.strip()}")


def remove_tree(path: Path) -> None:
    """Remove a directory tree or a file, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class ScratchServer:
    """A postmaster on a scratch data directory, for building and checking a restore."""

    def __init__(
        self,
        pg_bin: Path,
        data_dir: Path,
        *,
        port: int,
        socket_dir: Path,
        settings: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.pg_bin = pg_bin
        self.data_dir = data_dir
        self.port = port
        self.socket_dir = socket_dir
        self.settings = dict(settings or {})
        self.log_path = log_path or data_dir.with_name(data_dir.name + ".log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, user: str, database: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        command = [
            str(pg_tool(self.pg_bin, "postgres")),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
        ]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                as_server_user(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:])

    def _exited(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    def wait_ready(self, *, timeout: float, promoted: bool = False) -> float:
        """Wait until it accepts connections (and, with `promoted`, has left recovery)."""
        started = time.monotonic()

        def ready() -> bool:
            if self._exited():
                raise RestoreFailed(
                    f"the scratch PostgreSQL on {self.data_dir.name} stopped while starting: "
                    f"{self.log_tail()}"
                )
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.admin_dsn, connect_timeout=2, autocommit=True) as conn,
            ):
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                return not promoted or (row is not None and row[0] is False)
            return False

        def not_ready(_: bool) -> RestoreFailed:
            what = "finish recovery" if promoted else "accept connections"
            return RestoreFailed(
                f"the scratch PostgreSQL did not {what} within {timeout:.0f}s: {self.log_tail()}"
            )

        poll_until(
            ready, bool, timeout=timeout, since=started, interval=_POLL_SECONDS, give_up=not_ready
        )
        return time.monotonic() - started

    def stop(self, *, timeout: float = 30.0) -> None:
        """Fast shutdown (a clean checkpoint), by the server's own PID file."""
        if self._process is None:
            return
        if self._process.poll() is None:
            subprocess.run(
                as_server_user(
                    [
                        str(pg_tool(self.pg_bin, "pg_ctl")),
                        "stop",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(int(timeout)),
                    ]
                ),
                capture_output=True,
                timeout=timeout + 5,
                check=False,
            )
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill_postmaster()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self._process = None

    def _kill_postmaster(self) -> None:
        # Last resort, by the PID this scratch server wrote itself, never by name.
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
