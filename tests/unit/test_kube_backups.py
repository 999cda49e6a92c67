"""drillbook.backup.kube without a cluster: where the restored database is read, and the
refusal of a StatefulSet that mounts no backups volume (the cluster run:
tests/kind/test_database_restores_on_kind.py)."""

from __future__ import annotations

import pytest

from drillbook.backup.kube import _published_port
from drillbook.config.loader import load_config
from drillbook.errors import InvalidDrill
from drillbook.platforms.kube_database_volume import BACKUPS_AT, DatabaseVolumes
from tests.kind.cluster import REPO


def _volumes(backups_claim: str | None) -> DatabaseVolumes:
    return DatabaseVolumes(
        component="database",
        namespace="eleanor-db",
        statefulset="postgres",
        pod="postgres-0",
        container="postgres",
        image="drillbook/postgres:local",
        data_claim="data-postgres-0",
        backups_claim=backups_claim,
        replicas=1,
    )


def test_a_statefulset_without_a_backups_volume_is_refused_saying_where() -> None:
    refusal = _volumes(None).refusal()
    assert refusal is not None and BACKUPS_AT in refusal and "statefulset/postgres" in refusal
    assert _volumes("postgres-backups").refusal() is None


def test_the_restored_database_is_read_on_the_ledgers_loopback_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_config(str(REPO / "configs" / "kind.toml"))
    monkeypatch.setenv("ELEANOR_EVIDENCE_DSN", "postgresql://eleanor:pw@127.0.0.1:15432/eleanor_v8")
    assert _published_port(config) == 15432
    monkeypatch.setenv("ELEANOR_EVIDENCE_DSN", "postgresql://eleanor:pw@db.example:5432/x")
    with pytest.raises(InvalidDrill, match=r"127\.0\.0\.1"):
        _published_port(config)
    monkeypatch.delenv("ELEANOR_EVIDENCE_DSN")
    with pytest.raises(InvalidDrill, match="ELEANOR_EVIDENCE_DSN"):
        _published_port(config)
