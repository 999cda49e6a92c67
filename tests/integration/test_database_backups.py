"""Backups, restores and the ledger's read-back against a real stack (PostgreSQL, moto S3, the
reference service behind HAProxy): the plan's dump in S3 with its retention, PITR to a point in
time, and every bad input (no backup, a corrupt one, S3 unreachable) as one clear error that
leaves the live database exactly as it was.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from drillbook.backup.errors import BackupCorrupt, BackupNotFound, BackupStoreUnreachable
from drillbook.backup.local import DatabaseBackups
from drillbook.backup.store import BackupStore, backup_name
from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig, LedgerSettings
from drillbook.errors import RecoveryTimeout
from drillbook.ledger.sources import HttpSource, TableSource
from drillbook.ledger.writer import LedgerWriter
from drillbook.platforms.ports import free_ports
from drillbook.probes.auth import TokenProvider
from drillbook.scenarios.database.faults import damage_data_file
from drillbook.stack.local_stack import LocalStack, start_stack
from drillbook.stack.services.app import AppService
from drillbook.stack.services.moto import MotoService, aws_env
from drillbook.stack.services.postgres import PostgresService
from drillbook.stack.services.proxy import ProxyService
from tests.integration.processes import REPO

pytestmark = pytest.mark.integration

LEFTOVERS = ("pgdata.restore-*", "pgdata.failed-*", "pgdata.replaced-*", "backups/wal-pending-*")


@pytest.fixture(scope="module")
def config() -> DrillbookConfig:
    return load_config(None)


@pytest.fixture(scope="module")
def stack(config: DrillbookConfig) -> Iterator[LocalStack]:
    # What backups need, and nothing else: PostgreSQL, S3 (moto) and the service behind its proxy.
    run_dir = Path(tempfile.mkdtemp(prefix="drillbook-backups-"))
    started = start_stack(
        config,
        run_dir=run_dir,
        services=[PostgresService(), MotoService(), AppService(), ProxyService()],
    )
    try:
        yield started
    finally:
        started.stop(remove_run_dir=True)


@pytest.fixture(scope="module")
def backups(stack: LocalStack, config: DrillbookConfig) -> DatabaseBackups:
    return DatabaseBackups.for_stack(stack, config)


def token(stack: LocalStack) -> str:
    return jwt.encode({"sub": "test", "exp": int(time.time()) + 300}, stack.jwt_secret, "HS256")


def write(stack: LocalStack, tag: str, count: int) -> list[str]:
    trace_ids = [f"{tag}-{i}" for i in range(count)]
    headers = {"Authorization": f"Bearer {token(stack)}"}
    for trace_id in trace_ids:
        response = httpx.post(
            f"{stack.base_url}/deliberate",
            json={"input": "backup test", "context": {}, "trace_id": trace_id},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
    return trace_ids


def stored_trace_ids(stack: LocalStack) -> set[str]:
    with psycopg.connect(stack.database_dsn, connect_timeout=5) as conn:
        return {row[0] for row in conn.execute("SELECT trace_id FROM evidence_records")}


def state(stack: LocalStack) -> dict[str, Any]:
    """What must not change when a restore is refused: the cluster, its data, its running."""
    with psycopg.connect(stack.admin_dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    leftovers = [str(p) for pattern in LEFTOVERS for p in stack.run_dir.glob(pattern)]
    return {
        "system_identifier": row[0] if row else None,
        "evidence": stored_trace_ids(stack),
        "running": [r.running for r in stack.platform().replicas("database")],
        "leftovers": leftovers,
    }


def upload_raw(backups: DatabaseBackups, tmp_path: Path, content: bytes, days_ago: int) -> str:
    name = backup_name("eleanor-v8", datetime.now(UTC) - timedelta(days=days_ago))
    path = tmp_path / name
    path.write_bytes(content)
    backups.store.upload(path, name, {"sha256": hashlib.sha256(content).hexdigest()})
    return name


# --------------------------------------------------------------------------- backups


def test_the_plans_dump_goes_to_s3_and_old_ones_expire(
    stack: LocalStack, backups: DatabaseBackups, tmp_path: Path
) -> None:
    write(stack, "dump", 3)
    expired = upload_raw(backups, tmp_path, gzip.compress(b"SELECT 1;\n"), days_ago=31)
    kept = upload_raw(backups, tmp_path, gzip.compress(b"SELECT 1;\n"), days_ago=29)

    stored = backups.take_dump()

    assert re.fullmatch(r"eleanor-v8-\d{8}-\d{6}\.sql\.gz", stored.name)
    assert stored.key == f"database/{stored.name}"
    names = [b.name for b in backups.store.backups()]
    assert expired not in names and kept in names and stored.name in names
    fetched = tmp_path / "fetched.sql.gz"
    backups.store.download(stored, fetched)
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == stored.sha256
    with gzip.open(fetched, "rt") as dump:
        text = dump.read()
    assert "CREATE TABLE public.evidence_records" in text and "dump-2" in text
    assert backups.taken[-1]["expired"] == [expired]


# --------------------------------------------------------------------------- bad input


def test_no_backup_is_one_clear_error_and_changes_nothing(
    stack: LocalStack, backups: DatabaseBackups
) -> None:
    empty = dataclasses.replace(
        backups,
        store=BackupStore(
            dataclasses.replace(backups.settings, prefix="never-backed-up/"),
            endpoint_url=backups.store.endpoint_url,
            credentials=aws_env(stack.port("aws")),
        ),
    )
    before = state(stack)

    with pytest.raises(BackupNotFound, match="Take one with: drillbook backup database"):
        empty.restore("latest")
    with pytest.raises(BackupNotFound, match="no base backup finished before 2001"):
        backups.restore("latest", pitr=datetime(2001, 1, 1, tzinfo=UTC))

    assert state(stack) == before


@pytest.mark.parametrize(
    ("content", "sha_matches", "message"),
    [
        (b"this is not gzip at all", True, "does not decompress"),
        (gzip.compress(b"SELECT 1;\n"), False, "its sha256 is"),
        (gzip.compress(b"CREATE TABLE evidence_records (broken;\n"), True, "does not load"),
    ],
    ids=["not_gzip", "checksum_mismatch", "sql_does_not_load"],
)
def test_a_corrupt_backup_is_refused_and_nothing_is_half_restored(
    stack: LocalStack,
    backups: DatabaseBackups,
    tmp_path: Path,
    content: bytes,
    sha_matches: bool,
    message: str,
) -> None:
    name = backup_name("eleanor-v8", datetime.now(UTC) + timedelta(days=1))  # the newest
    path = tmp_path / name
    path.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest() if sha_matches else "0" * 64
    backups.store.upload(path, name, {"sha256": sha})
    before = state(stack)
    try:
        with pytest.raises(BackupCorrupt, match=message) as info:
            backups.restore("latest")
    finally:
        backups.store.delete(name)

    assert name in str(info.value)
    assert state(stack) == before
    assert httpx.get(f"{stack.base_url}/health", timeout=5).json()["checks"]["database"] == "ok"


def test_s3_unreachable_is_one_clear_error(stack: LocalStack, backups: DatabaseBackups) -> None:
    dead = free_ports(1)[0]
    offline = dataclasses.replace(
        backups,
        store=BackupStore(
            backups.settings,
            endpoint_url=f"http://127.0.0.1:{dead}",
            credentials=aws_env(dead),
            timeout_seconds=1.0,
        ),
    )
    before = state(stack)

    with pytest.raises(BackupStoreUnreachable, match=f"127.0.0.1:{dead}.*did not answer"):
        offline.restore("latest")
    with pytest.raises(BackupStoreUnreachable):
        offline.take_dump()

    assert state(stack) == before
    assert not list(backups.db.work_dir.glob("*.sql.gz*"))


# --------------------------------------------------------------------------- restores


def test_point_in_time_recovery_to_a_time(stack: LocalStack, backups: DatabaseBackups) -> None:
    kept_before = write(stack, "pitr-a", 3)
    backups.take_base_backup()
    kept_after = write(stack, "pitr-b", 3)
    time.sleep(0.5)
    target = datetime.now(UTC)
    time.sleep(0.5)
    dropped = write(stack, "pitr-c", 3)

    result = backups.restore("latest", pitr=target)

    present = stored_trace_ids(stack)
    assert set(kept_before + kept_after) <= present
    assert not set(dropped) & present
    assert result.mode == "pitr" and result.target == target.isoformat()
    assert result.chain is not None and result.chain["intact"]
    assert backups.used[-1]["backup"]["name"] == result.backup["name"]
    assert state(stack)["leftovers"] == []
    write(stack, "pitr-d", 1)  # the service writes to the restored database


def test_the_latest_dump_restores_as_a_fresh_cluster(
    stack: LocalStack, backups: DatabaseBackups
) -> None:
    in_dump = write(stack, "dump-restore-a", 2)
    stored = backups.take_dump()
    after_dump = write(stack, "dump-restore-b", 2)
    identifier = state(stack)["system_identifier"]

    result = backups.restore(stored.name)

    present = stored_trace_ids(stack)
    assert set(in_dump) <= present and not set(after_dump) & present
    assert result.mode == "dump" and result.backup["sha256"] == stored.sha256
    after = state(stack)
    assert after["system_identifier"] != identifier  # a new cluster, from initdb
    assert after["leftovers"] == []
    # The old cluster's WAL archive and base backups went with it: PITR starts afresh.
    assert list(stack.run_dir.glob("backups/retired-*/wal"))
    write(stack, "dump-restore-c", 1)


# --------------------------------------------------------------------------- the fault's undo


def test_a_damaged_data_file_is_undone_when_nothing_restored_it(
    stack: LocalStack, backups: DatabaseBackups, config: DrillbookConfig
) -> None:
    written = write(stack, "damage", 3)
    platform = backups.db.platform
    fault = damage_data_file(platform, backups.db, config.target.components["database"])

    fault.inject()
    platform.start("database")  # a restart cannot recover it: the server refuses to start
    with pytest.raises(RecoveryTimeout):
        platform.wait_until_ready("database", timeout=3.0)

    platform.apply_undo(fault.undo)  # what a drill that failed before restoring leaves to undo
    platform.wait_until_ready("database", timeout=60.0)
    assert set(written) <= stored_trace_ids(stack)  # crash recovery: every commit is there
    assert not Path(fault.undo.args["saved"]).exists()


def test_the_undo_leaves_a_restored_database_alone(
    stack: LocalStack, backups: DatabaseBackups, config: DrillbookConfig
) -> None:
    backups.take_base_backup()
    fault = damage_data_file(backups.db.platform, backups.db, config.target.components["database"])
    fault.inject()
    backups.restore("latest", pitr="latest")
    control = backups.db.data_dir / "global" / "pg_control"
    restored = control.read_bytes()

    backups.db.platform.apply_undo(fault.undo)

    assert control.read_bytes() == restored
    backups.db.platform.wait_until_ready("database", timeout=30.0)


# --------------------------------------------------------------------------- ledger read-back


def test_the_ledger_reads_back_through_the_table_and_http(stack: LocalStack) -> None:
    settings = LedgerSettings(write_path="/deliberate", rate_per_second=50.0, max_writes=8)
    tokens = TokenProvider(load_config(None).target.auth, secret=stack.jwt_secret)
    table = TableSource(stack.database_dsn, "evidence_records")
    ledger = LedgerWriter(
        settings,
        objectives=load_config(None).objectives,
        base_url=stack.base_url,
        source=table,
        ack_dir=stack.run_dir / "ledger",
        tokens=tokens,
    )
    ledger.start()
    deadline = time.monotonic() + 30
    while ledger.stopped_because is None and time.monotonic() < deadline:
        time.sleep(0.05)
    ledger.stop()
    acks, _, attempted = ledger.snapshot()
    assert len(acks) == 8
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM evidence_records WHERE trace_id = %s", (acks[2].trace_id,))
    http = HttpSource(stack.base_url, settings.read_path, tokens=tokens)

    for source in (table, http):
        stored = source.read(ledger.prefix, attempted)
        found = {r.trace_id for r in stored}
        assert found == {a.trace_id for a in acks} - {acks[2].trace_id}, source.description
        assert all(r.record_hash for r in stored)
    result = ledger.check(fault_at=None)
    assert result is not None and [a.seq for a in result.lost] == [3]
    chain = ledger.last_chain
    assert chain is not None and [p.kind for p in chain.problems] == ["gap"]


# --------------------------------------------------------------------------- the commands


def test_the_backup_and_restore_commands(stack: LocalStack) -> None:
    command = [sys.executable, "-m", "drillbook.cli"]
    backup = subprocess.run(
        [*command, "backup", "database", "--run-dir", str(stack.run_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert backup.returncode == 0, backup.stderr
    assert re.search(r"backup eleanor-v8-\d{8}-\d{6}\.sql\.gz", backup.stdout)

    missing = subprocess.run(
        [
            *command,
            "restore",
            "database",
            "--run-dir",
            str(stack.run_dir),
            "--backup",
            "eleanor-v8-20000101-000000.sql.gz",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("drillbook: error: BackupNotFound: no backup")
