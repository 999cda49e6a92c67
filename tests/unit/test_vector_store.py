"""The vector-store drill's pure parts: embeddings, the RPO arithmetic, settings, the Weaviate
service's layout and environment, data undos, and backup naming and retention.

The same paths run for real (Weaviate, moto server) in tests/integration/test_weaviate_backups.py
and drills/monthly/test_vector_db_failure.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drillbook.backup.weaviate import (
    BackupNotFound,
    S3BackupStore,
    backup_name,
    backup_time,
    prune_backups,
)
from drillbook.config.model import StackSettings
from drillbook.core.undo import UndoAction
from drillbook.core.undo_handlers import (
    HANDLER_PLATFORM,
    handler_executor,
    handler_undo,
    resolve_handler,
    undo_handler,
)
from drillbook.errors import InvalidDrill
from drillbook.scenarios.vector_store.companion import CORPUS, Write, assess_writes
from drillbook.scenarios.vector_store.faults import restore_vector_data
from drillbook.stack.services.base import StackContext
from drillbook.stack.services.weaviate import (
    BINARY_ENV,
    BUILD_SCRIPT,
    PORT_NAMES,
    VectorStoreNotProvided,
    WeaviateService,
    weaviate_binary,
    weaviate_environment,
)
from eleanor_reference.precedent_settings import (
    PrecedentSettings,
    PrecedentSettingsError,
)
from eleanor_reference.precedents import (
    NOT_CONFIGURED,
    PrecedentCache,
    PrecedentService,
    embed,
    precedent_id,
)


def _cosine_distance(a: list[float], b: list[float]) -> float:
    return 1.0 - sum(x * y for x, y in zip(a, b, strict=True))


# -- embeddings --------------------------------------------------------------------------------
def test_embedding_is_deterministic_and_unit_length() -> None:
    first = embed("Refused to disclose medical history")
    assert first == embed("Refused to disclose medical history")
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0, rel_tol=1e-9)
    assert first != embed("Allowed traffic statistics")
    # No words at all still gives a usable (non-zero) vector.
    assert math.isclose(sum(v * v for v in embed("!!!")), 1.0, rel_tol=1e-9)


def test_every_known_query_finds_its_precedent_first_among_corpus_and_ledger() -> None:
    texts = {k.object_id: k.text for k in CORPUS}
    # What the ledger writes beside the corpus must never outrank a known precedent.
    for seq in range(1, 300):
        texts[precedent_id(f"ledger-x-{seq}")] = f"ledger record {seq} run 3fa2b9c1"
    vectors = {object_id: embed(text) for object_id, text in texts.items()}
    for known in CORPUS:
        query = embed(known.query)
        nearest = min(vectors, key=lambda oid: _cosine_distance(query, vectors[oid]))
        assert nearest == known.object_id, known.query


# -- the RPO arithmetic ------------------------------------------------------------------------
def _write(seq: int, acked_at: float | None) -> Write:
    return Write(seq, f"k{seq}", f"id{seq}", sent_at=(acked_at or 0.0) - 0.01, acked_at=acked_at)


def test_nothing_lost_is_an_rpo_of_zero() -> None:
    writes = [_write(1, 10.0), _write(2, 10.5), _write(3, None)]
    result = assess_writes(writes, {"id1", "id2"}, fault_at=11.0)
    assert (result.acked_before_fault, result.present, result.lost_keys) == (2, 2, ())
    assert result.rpo_seconds == 0.0


def test_lost_writes_give_the_rpo_back_to_the_oldest_lost() -> None:
    writes = [_write(1, 10.0), _write(2, 10.5), _write(3, 11.0), _write(4, 11.5), _write(5, 13.0)]
    # 3 and 4 were acknowledged before the fault and are gone; 5 came after the fault and is
    # gone too, but a write the fault never saw is not part of the RPO.
    result = assess_writes(writes, {"id1", "id2"}, fault_at=12.0)
    assert result.lost_keys == ("k3", "k4")
    assert (result.acked_before_fault, result.present) == (4, 2)
    assert math.isclose(result.rpo_seconds, 12.0 - 11.0)


# -- settings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PRECEDENT_BACKEND": "pgvector"}, "PRECEDENT_BACKEND='pgvector' is not supported"),
        ({"PRECEDENT_BACKEND": "weaviate"}, "WEAVIATE_URL=None is not an http(s) URL"),
        (
            {"PRECEDENT_BACKEND": "weaviate", "WEAVIATE_URL": "ftp://x"},
            "WEAVIATE_URL='ftp://x'",
        ),
        ({"WEAVIATE_GRPC_PORT": "70000"}, "WEAVIATE_GRPC_PORT=70000 is not a TCP port"),
        ({"PRECEDENT_CACHE_TTL_SECONDS": "soon"}, "is not an integer"),
    ],
)
def test_bad_precedent_settings_are_one_clear_error(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(
        PrecedentSettingsError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        PrecedentSettings.from_env(env)


def test_precedent_settings_from_the_stack_environment() -> None:
    settings = PrecedentSettings.from_env(
        {
            "PRECEDENT_BACKEND": "weaviate",
            "WEAVIATE_URL": "http://127.0.0.1:28080/",
            "WEAVIATE_GRPC_PORT": "28081",
        }
    )
    assert (settings.backend, settings.weaviate_url, settings.weaviate_grpc_port) == (
        "weaviate",
        "http://127.0.0.1:28080",
        28081,
    )
    assert PrecedentSettings.from_env({}).backend == "none"


def test_no_precedent_store_is_reported_not_configured() -> None:
    cache = PrecedentCache("redis://127.0.0.1:1/0", timeout_seconds=0.1, ttl_seconds=1)
    service = PrecedentService(None, cache, logging.getLogger("test"))
    assert asyncio.run(service.health(0.1)) == (NOT_CONFIGURED, None)


# -- the Weaviate service ----------------------------------------------------------------------
def test_missing_binary_names_the_build_script(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "no-such-weaviate"))
    with pytest.raises(VectorStoreNotProvided, match=BUILD_SCRIPT) as raised:
        weaviate_binary()
    assert str(tmp_path / "no-such-weaviate") in str(raised.value)


def test_stack_without_weaviate_provides_no_vector_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "no-such-weaviate"))
    taken: list[str] = []

    def take_port(name: str) -> int:
        taken.append(name)
        return 20000 + len(taken)

    ctx = StackContext(run_dir=tmp_path, settings=StackSettings(), take_port=take_port)
    service = WeaviateService()
    assert service.layout(ctx) == []
    assert taken == []
    assert ctx.app_env["PRECEDENT_BACKEND"] == "none"
    assert isinstance(service.missing, VectorStoreNotProvided)


def test_weaviate_listens_on_loopback_only_with_telemetry_off(tmp_path: Path) -> None:
    ports = {name: 21000 + i for i, name in enumerate(PORT_NAMES)}
    env = weaviate_environment(ports, tmp_path)
    assert env["CLUSTER_BIND_ADDR"] == env["CLUSTER_ADVERTISE_ADDR"] == "127.0.0.1"
    assert env["DISABLE_TELEMETRY"] == "true"
    assert env["ENABLE_MODULES"] == "backup-filesystem"
    assert env["AUTOSCHEMA_ENABLED"] == "false"
    assert env["GO_PROFILING_DISABLE"] == "true"
    bound = {
        env[key]
        for key in (
            "GRPC_PORT",
            "CLUSTER_GOSSIP_BIND_PORT",
            "CLUSTER_DATA_BIND_PORT",
            "RAFT_PORT",
            "RAFT_INTERNAL_RPC_PORT",
        )
    }
    assert bound == {str(p) for name, p in ports.items() if name != "weaviate"}
    assert all(int(p) < 32768 for p in bound)


# -- data undos --------------------------------------------------------------------------------
class _RecordingPlatform:
    name = "local"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def apply_undo(self, action: UndoAction) -> None:
        self.calls.append(("apply_undo", action.verb))

    def stop(self, component: str) -> None:
        self.calls.append(("stop", component))

    def start(self, component: str) -> None:
        self.calls.append(("start", component))

    def wait_until_ready(self, component: str, *, timeout: float) -> float:
        self.calls.append(("wait_until_ready", component))
        return 0.0


def test_data_undo_is_journalable_data_that_puts_the_directories_back(tmp_path: Path) -> None:
    data, backups, quarantine = tmp_path / "data", tmp_path / "backups", tmp_path / "lost"
    (quarantine / "weaviate-data").mkdir(parents=True)
    (quarantine / "weaviate-data" / "marker").write_text("original")
    (quarantine / "weaviate-backups").mkdir()
    data.mkdir()
    (data / "restored").write_text("restored, to be replaced")
    action = handler_undo(
        "put it back",
        restore_vector_data,
        component="vector_store",
        data_path=str(data),
        backup_path=str(backups),
        quarantine=str(quarantine),
    )
    replayed = UndoAction(**json.loads(json.dumps(action.__dict__)))  # through the journal
    platform = _RecordingPlatform()
    handler_executor(platform)(replayed)
    assert replayed.platform == HANDLER_PLATFORM
    assert (data / "marker").read_text() == "original"
    assert not (data / "restored").exists()
    assert backups.is_dir() and not quarantine.exists()
    assert platform.calls == [
        ("stop", "vector_store"),
        ("start", "vector_store"),
        ("wait_until_ready", "vector_store"),
    ]
    # Replayed again (a run that died after the undo but before journaling it): harmless.
    handler_executor(platform)(replayed)
    assert (data / "marker").read_text() == "original"


def _not_marked(platform: object) -> None:
    raise AssertionError("must never run")


@pytest.mark.parametrize(
    "verb",
    [
        "os:system",
        "tests.unit.test_vector_store:_not_marked",
        "drillbook.scenarios.vector_store.faults:nope",
    ],
)
def test_undo_names_only_marked_drillbook_functions(verb: str) -> None:
    with pytest.raises(InvalidDrill):
        resolve_handler(verb)


def test_only_marked_functions_become_undos() -> None:
    def unmarked(platform: object) -> None:
        raise AssertionError("must never run")

    with pytest.raises(InvalidDrill, match="not marked"):
        handler_undo("x", unmarked)
    marked = undo_handler(unmarked)
    assert handler_undo("x", marked).verb.endswith("unmarked")


# -- backup names and retention ----------------------------------------------------------------
def test_backup_names_follow_the_plan() -> None:
    moment = datetime(2025, 1, 8, 3, 0, 5, tzinfo=UTC)
    assert backup_name(moment) == "weaviate-20250108-030005"
    assert backup_time("weaviate-20250108-030005") == moment
    assert backup_time("weaviate-latest") is None


@mock_aws
def test_retention_prunes_backups_older_than_30_days_and_finds_the_latest(
    tmp_path: Path,
) -> None:
    now = datetime(2025, 3, 1, 3, 0, 0, tzinfo=UTC)
    store = S3BackupStore(boto3.client("s3", region_name="us-east-1"))
    with pytest.raises(BackupNotFound, match="drillbook backup weaviate"):
        store.find("latest")
    store.ensure_bucket()
    ages = {"old": 31, "edge": 29, "new": 1}
    names = {label: backup_name(now - timedelta(days=days)) for label, days in ages.items()}
    for name in names.values():
        for part in ("backup_config.json", "weaviate-0/backup.json"):
            store.client.put_object(Bucket=store.bucket, Key=f"weaviate/{name}/{part}", Body=b"x")
        (tmp_path / name).mkdir()
    pruned = prune_backups(store, now=now, local_dirs=(tmp_path,))
    assert pruned == [names["old"]]
    assert [b.backup_id for b in store.backups()] == [names["edge"], names["new"]]
    assert not (tmp_path / names["old"]).exists() and (tmp_path / names["edge"]).exists()
    latest = store.find("latest")
    assert (latest.backup_id, latest.files, latest.size_bytes) == (names["new"], 2, 2)
    with pytest.raises(BackupNotFound, match=names["new"]):
        store.find("weaviate-20000101-000000")
