"""testcontainers for drillbook's own throwaway services: a fresh PostgreSQL per test, from the
image scripts/build-images.sh built (drillbook/postgres:local), for a backup taken from one
database and restored into another with drillbook's own pg_dump | gzip and psql.

Ryuk, testcontainers' reaper, is disabled (tests/docker/conftest.py): its image is on a
registry this machine cannot reach. The fixture removes its container itself (with its
volumes), and the session checks that the engine lists nothing new afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from testcontainers.core.container import DockerContainer

from drillbook.backup.dump import load_dump, take_dump
from drillbook.stack.binaries import postgres_bin_dir
from tests.docker.engine import EngineState, wait_for

IMAGE = "drillbook/postgres:local"
READY_TIMEOUT_SECONDS = 60.0


def _connects(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@dataclass(frozen=True)
class Throwaway:
    """A PostgreSQL reached at its container's own address on the daemon's bridge network (a
    test host inside this machine: nothing is published on the host's interfaces)."""

    host: str
    port: int = 5432

    @property
    def dsn(self) -> str:
        return f"postgresql://eleanor@{self.host}:{self.port}/eleanor_v8"


@contextmanager
def _throwaway() -> Iterator[Throwaway]:
    """A fresh PostgreSQL in a container of its own; removed (with its volumes) on the way out,
    whatever happened."""
    assert os.environ.get("TESTCONTAINERS_RYUK_DISABLED") == "true"
    container = DockerContainer(IMAGE)
    container.start()
    try:
        client = container.get_docker_client()
        database = Throwaway(host=client.bridge_ip(container.get_container_id()))
        wait_for(
            lambda: _connects(database.dsn), timeout=READY_TIMEOUT_SECONDS, what=f"{IMAGE} ready"
        )
        yield database
    finally:
        container.stop(force=True, delete_volume=True)


@pytest.fixture
def throwaway_postgres(engine_unchanged: EngineState) -> Iterator[Throwaway]:
    with _throwaway() as database:
        yield database


@pytest.fixture
def second_postgres(engine_unchanged: EngineState) -> Iterator[Throwaway]:
    with _throwaway() as database:
        yield database


def test_a_dump_of_one_fresh_database_restores_into_another(
    throwaway_postgres: Throwaway, second_postgres: Throwaway, tmp_path: Path
) -> None:
    assert throwaway_postgres.host != second_postgres.host
    with psycopg.connect(throwaway_postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE evidence_records (id serial PRIMARY KEY, body text NOT NULL)")
        for n in range(100):
            conn.execute("INSERT INTO evidence_records (body) VALUES (%s)", (f"record {n}",))
    pg_bin = postgres_bin_dir(None)
    dump = take_dump(
        pg_bin,
        host=throwaway_postgres.host,
        port=throwaway_postgres.port,
        user="eleanor",
        database="eleanor_v8",
        target=tmp_path / "daily.sql.gz",
    )
    assert dump.size_bytes > 0
    load_dump(
        pg_bin,
        dump.path,
        name=dump.path.name,
        host=second_postgres.host,
        port=second_postgres.port,
        user="eleanor",
        database="eleanor_v8",
    )
    with psycopg.connect(second_postgres.dsn) as conn:
        rows = conn.execute("SELECT id, body FROM evidence_records ORDER BY id").fetchall()
    assert rows == [(n + 1, f"record {n}") for n in range(100)]
