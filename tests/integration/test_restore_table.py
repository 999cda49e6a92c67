"""The restore test counts the table the configuration names, and a table that is not there
fails it: against a real PostgreSQL, a real `pg_dump` and a real load into a scratch database.

Before, the restore test counted the reference schema's `evidence_records` whatever the service
was; against a service with another schema it passed on "0 evidence rows, chain intact" without
looking at the service's data.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from drillbook.backup.dump import take_dump
from drillbook.backup.restore import EVIDENCE_TABLE, LocalDatabase, check_dump_restores
from drillbook.config.loader import load_config
from drillbook.platforms.local import LocalPlatform
from drillbook.stack.binaries import postgres_bin_dir
from drillbook.stack.local_stack import LocalStack, start_stack
from drillbook.stack.services.postgres import DATABASE_NAME, DATABASE_USER, PostgresService

pytestmark = pytest.mark.integration

TABLE = "service_notes"
"""A service's own table: a trace id and a hash per row, but no hash chain."""
ROWS = 7


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = load_config(None)
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-restore-table-"))
    started = start_stack(config, run_dir=run_dir, services=[PostgresService()], wait_healthy=False)
    try:
        yield started
    finally:
        started.stop(remove_run_dir=True)


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> LocalDatabase:
    database = LocalDatabase(
        pg_bin=postgres_bin_dir(load_config(None).stack.postgres_bin_dir),
        run_dir=stack.run_dir,
        port=stack.port("postgres"),
        platform=LocalPlatform(stack.supervisor, PostgresService().components(stack)),
        records_table=TABLE,
    )
    with psycopg.connect(database.dsn(), autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, trace_id text, record_hash text)"
        )
        for n in range(ROWS):
            conn.execute(
                f"INSERT INTO {TABLE} (trace_id, record_hash) VALUES (%s, %s)",
                (f"note-{n}", f"h{n}"),
            )
    return database


@pytest.fixture(scope="module")
def dump(db: LocalDatabase) -> Path:
    target = db.run_dir / "backups" / "work" / "restore-table.sql.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    return take_dump(
        db.pg_bin,
        host="127.0.0.1",
        port=db.port,
        user=DATABASE_USER,
        database=DATABASE_NAME,
        target=target,
    ).path


def test_the_restore_test_counts_the_configured_table(db: LocalDatabase, dump: Path) -> None:
    check = check_dump_restores(
        db, dump, name=dump.name, backup={"name": dump.name}, expected_min_rows=ROWS
    )

    assert check.passed, check.describe()
    assert (check.table, check.table_found, check.evidence_rows) == (TABLE, True, ROWS)
    # No payload/prev_hash columns: nothing to chain-verify, and none pretended.
    assert check.chain is None
    assert f"{ROWS} rows in {TABLE} (at least {ROWS} expected), no chain" in check.describe()
    assert check.figures()["table"] == TABLE


def test_a_table_missing_from_the_restore_fails_it_clearly(db: LocalDatabase, dump: Path) -> None:
    # The reference schema's table, which this database never had: before, "0 evidence rows,
    # chain intact" and passed.
    elsewhere = dataclasses.replace(db, records_table=EVIDENCE_TABLE)
    check = check_dump_restores(
        elsewhere, dump, name=dump.name, backup={"name": dump.name}, expected_min_rows=None
    )

    assert not check.passed
    assert (check.table, check.table_found, check.evidence_rows, check.chain) == (
        EVIDENCE_TABLE,
        False,
        None,
        None,
    )
    assert f"table {EVIDENCE_TABLE} does not exist in the restored database" in (check.describe())
    assert check.figures()["passed"] is False
