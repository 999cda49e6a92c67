"""PostgreSQL in the embedded stack: a private cluster, run as the `postgres` user under root."""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from drillbook.errors import MissingDependency, StackError
from drillbook.platforms.local import LocalComponent
from drillbook.stack.binaries import postgres_bin_dir, require_binary
from drillbook.stack.layout import Program
from drillbook.stack.services.base import StackContext

if TYPE_CHECKING:
    from drillbook.stack.local_stack import LocalStack

DATABASE_NAME = "eleanor_v8"
DATABASE_USER = "eleanor"
START_TIMEOUT_SECONDS = 60.0


def database_dsn(port: int) -> str:
    return f"postgresql://{DATABASE_USER}@127.0.0.1:{port}/{DATABASE_NAME}"


def admin_dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


class PostgresService:
    name = "postgres"

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        """Server settings beyond the stack's own (a primary site's replication and
        archive_timeout, drillbook.sites), each passed as `-c name=value`."""

    def prepare_data(self, ctx: StackContext, pg_bin: Path) -> str | None:
        """Create the data directory; returns the user the server runs as."""
        return init_cluster(pg_bin, ctx.run_dir)

    def layout(self, ctx: StackContext) -> list[Program]:
        pg_bin = postgres_bin_dir(ctx.settings.postgres_bin_dir)
        port = ctx.take_port("postgres")
        user = self.prepare_data(ctx, pg_bin)
        archive = prepare_wal_archive(ctx.run_dir, user)
        ctx.app_env["ELEANOR_DATABASE_URL"] = database_dsn(port)
        extra = [
            part for name, value in self.settings.items() for part in ("-c", f"{name}={value}")
        ]
        return [
            Program(
                group="postgres",
                name="postgres-0",
                command=[
                    str(pg_bin / "postgres"),
                    "-D",
                    str(ctx.run_dir / "pgdata"),
                    "-p",
                    str(port),
                    "-k",
                    str(ctx.run_dir / "pgsocket"),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Continuous WAL archiving into the run directory: with base backups, the
                    # point-in-time recovery of drillbook.backup.pitr.
                    "-c",
                    "archive_mode=on",
                    "-c",
                    f"archive_command={wal_archive_command(archive)}",
                    *extra,
                ],
                user=user,
                # SIGINT is PostgreSQL's "fast shutdown": quick and clean for teardown.
                stopsignal="INT",
            )
        ]

    def components(self, stack: LocalStack) -> dict[str, LocalComponent]:
        return {
            "database": LocalComponent(
                name="database",
                group="postgres",
                processes=["postgres-0"],
                desired=1,
                readiness={"postgres-0": postgres_ready(admin_dsn(stack.port("postgres")))},
            )
        }

    independent_start = True
    """Its start needs only supervisord: it runs beside the other data services' starts."""

    def start(self, stack: LocalStack) -> None:
        platform = stack.platform()
        platform.start("database")
        platform.wait_until_ready("database", timeout=START_TIMEOUT_SECONDS)
        create_database(admin_dsn(stack.port("postgres")))


def init_cluster(pg_bin: Path, run_dir: Path, data_dir: Path | None = None) -> str | None:
    """initdb a private cluster; returns the user the server must run as (None: ourselves).

    `data_dir` (default: run_dir/pgdata) lets a restore build a scratch cluster beside it.
    """
    data = data_dir or run_dir / "pgdata"
    sockets = run_dir / "pgsocket"
    sockets.mkdir(exist_ok=True)
    user: str | None = None
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root.
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise MissingDependency(
                "running as root, PostgreSQL must run as the 'postgres' user, which does not "
                "exist; install the postgresql package (it creates the user) or run as non-root"
            ) from None
        require_traversable(run_dir, entry.pw_uid, entry.pw_gid)
        os.chown(sockets, entry.pw_uid, entry.pw_gid)
        prefix = [str(require_binary("runuser")), "-u", user, "--"]
    if (data / "PG_VERSION").exists():
        return user
    data.mkdir(exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o700)
    result = subprocess.run(
        [
            *prefix,
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"initdb failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    return user


def require_traversable(run_dir: Path, uid: int, gid: int) -> None:
    """The postgres user must reach its data directory through every parent of the run dir."""
    for directory in [run_dir, *run_dir.parents]:
        mode = directory.stat()
        owner_ok = mode.st_uid == uid and mode.st_mode & 0o100
        group_ok = mode.st_gid == gid and mode.st_mode & 0o010
        if not (owner_ok or group_ok or mode.st_mode & 0o001):
            raise StackError(
                f"the stack's run directory {run_dir} is not reachable by the 'postgres' user: "
                f"{directory} has mode {oct(mode.st_mode & 0o777)}; choose a run directory "
                "whose parents are traversable (e.g. under /tmp), or omit stack.run_dir"
            )


WAL_ARCHIVE_DIR = Path("backups") / "wal"
"""The WAL archive, relative to the run directory."""


ARCHIVE_TEMPORARY_PREFIX = ".partial-copy-"
"""A WAL file being copied into the archive; never a segment (see wal_archive_command)."""


def wal_archive_command(archive: Path) -> str:
    """archive_command: copy a finished WAL segment into the archive, never over one there.

    The copy goes to a hidden temporary name and is renamed into place: the database drill
    SIGKILLs the server, and a `cp` killed halfway would otherwise leave a truncated segment
    under its final name, which every later attempt refuses to overwrite (archiving stalls)
    and a restore replays as if it were whole. A rename within one directory is atomic, so
    the archive holds whole segments only; a leftover temporary file is overwritten by the
    next attempt and ignored by everything that reads the archive.
    """
    quoted = shlex.quote(str(archive))
    temporary = f"{quoted}/{ARCHIVE_TEMPORARY_PREFIX}%f"
    return f"test ! -f {quoted}/%f && cp %p {temporary} && mv {temporary} {quoted}/%f"


def prepare_wal_archive(run_dir: Path, user: str | None, archive: Path | None = None) -> Path:
    """Create the WAL archive directory, writable by the server's user."""
    archive = archive or run_dir / WAL_ARCHIVE_DIR
    archive.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(archive, entry.pw_uid, entry.pw_gid)
    archive.chmod(0o700)
    return archive


def create_database(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DATABASE_USER,))
        if exists.fetchone() is None:
            conn.execute(f"CREATE ROLE {DATABASE_USER} LOGIN")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
        if exists.fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE_NAME} OWNER {DATABASE_USER}")


def postgres_ready(dsn: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with psycopg.connect(dsn, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    return check
