"""`drillbook backup database` and `drillbook restore database` on the reference Compose project
(configs/compose.toml): the plan's daily dump (pg_dump through PostgreSQL's published port, to
the project's own S3) and its restore into a recreated volume. A row committed before the dump
is there after the restore, one committed after it is not (the dump's RPO, as the plan's daily
backup has it), the volume is a new one, and every container is back as it was. What cannot
work is refused before anything changes, saying why: Weaviate through drillbook (point-in-time
recovery: tests/docker/test_pitr_on_compose.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import psycopg

from tests.docker.engine import CONFIG, EVIDENCE_DSN, PROJECT, ROOT, docker, project_containers

VOLUME = f"{PROJECT}_pgdata"
COMMAND_TIMEOUT_SECONDS = 300.0


def _drillbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args, "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _markers() -> set[str]:
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5) as conn:
        rows = conn.execute("SELECT marker FROM drillbook_restore_marker").fetchall()
    return {str(r[0]) for r in rows}


def _insert(marker: str) -> None:
    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drillbook_restore_marker (marker text)")
        conn.execute("INSERT INTO drillbook_restore_marker VALUES (%s)", (marker,))


def _volume_created() -> str:
    return docker("volume", "inspect", "--format", "{{.CreatedAt}}", VOLUME).strip()


def test_dump_restored_into_a_recreated_volume(compose_project: dict[str, str]) -> None:
    containers_before = project_containers()
    before_dump, after_dump = uuid.uuid4().hex, uuid.uuid4().hex
    _insert(before_dump)

    backup = _drillbook("backup", "database")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert "drillbook: backup eleanor-v8-" in backup.stdout, backup.stdout
    _insert(after_dump)
    assert {before_dump, after_dump} <= _markers()
    created = _volume_created()

    restore = _drillbook("restore", "database")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    figures = json.loads(restore.stdout[restore.stdout.index("{") :])
    print(f"restore on compose: {figures}")
    assert figures["mode"] == "dump", figures
    assert f"restored into a recreated volume {VOLUME}" in figures["notes"], figures
    markers = _markers()
    assert before_dump in markers, "the row committed before the dump is restored"
    assert after_dump not in markers, "a row committed after the dump cannot be in it"
    assert _volume_created() != created, "the volume is a new one"
    assert project_containers() == containers_before

    with psycopg.connect(EVIDENCE_DSN, connect_timeout=5, autocommit=True) as conn:
        conn.execute("DROP TABLE drillbook_restore_marker")


def test_what_cannot_work_is_refused_before_anything_changes(
    compose_project: dict[str, str],
) -> None:
    created = _volume_created()
    containers_before = project_containers()
    refused = _drillbook("backup", "weaviate")
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "drillbook: error:" in refused.stderr, refused.stderr
    assert "through Weaviate's own API" in refused.stderr, refused.stderr
    assert _volume_created() == created
    assert project_containers() == containers_before
