"""How the vector-store drills find Weaviate's files on a kind node, and the off-cluster backup
directory they copy backups to (the real file system; the cluster side runs in
tests/kind/test_vector_drills_on_kind.py)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import cast

import pytest
import yaml

from drillbook.backup.weaviate import BackupNotFound
from drillbook.backup.weaviate_directory_store import DirectoryBackupStore
from drillbook.backup.weaviate_kubernetes import (
    PUBLISHED_GRPC_PORT,
    PUBLISHED_URL,
    host_path_in_mounts,
    mount_containing,
    selector_labels,
)
from drillbook.config import load_config
from drillbook.scenarios.vector_store.on_kubernetes import kubernetes_ledger
from drillbook.target import Target


def test_the_innermost_mount_holding_a_path_is_chosen() -> None:
    mounts = ["/var", "/var/lib/weaviate", "/var/lib/weaviate-other"]
    assert mount_containing("/var/lib/weaviate/backups", mounts) == "/var/lib/weaviate"
    assert mount_containing("/var/lib/weaviate", mounts) == "/var/lib/weaviate"
    # A sibling whose name only starts the same is not a parent.
    assert mount_containing("/var/lib/weaviatex", mounts) == "/var"
    assert mount_containing("/srv/data", mounts) is None


def test_a_node_directory_maps_to_the_node_containers_volume() -> None:
    mounts = [
        {"Destination": "/lib/modules", "Source": "/lib/modules"},
        {"Destination": "/var", "Source": "/var/lib/docker/volumes/abc/_data"},
    ]
    path = PurePosixPath("/var/local-path-provisioner/pvc-1_eleanor-vector_data-weaviate-0")
    assert host_path_in_mounts(mounts, path) == Path(
        "/var/lib/docker/volumes/abc/_data/local-path-provisioner/pvc-1_eleanor-vector_data-weaviate-0"
    )
    assert host_path_in_mounts(mounts, PurePosixPath("/opt/x")) is None


def test_selector_equality_terms_become_labels() -> None:
    assert selector_labels("app=weaviate") == {"app": "weaviate"}
    assert selector_labels("app==weaviate, tier=db,env!=prod") == {"app": "weaviate", "tier": "db"}


def _backup(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


def test_the_directory_store_keeps_uploads_and_finds_the_latest(tmp_path: Path) -> None:
    store = DirectoryBackupStore(tmp_path / "offsite")
    assert store.backups() == []
    with pytest.raises(BackupNotFound):
        store.find("latest")
    store.ensure_bucket()
    older = _backup(tmp_path / "export", "weaviate-20261206-100000", {"backup_config.json": "{}"})
    newer = _backup(
        tmp_path / "export",
        "weaviate-20261206-110000",
        {"backup_config.json": '{"status": "SUCCESS"}', "node/chunk-1": "xyz"},
    )
    assert store.upload(older.name, older) == (1, 2)
    assert store.upload(newer.name, newer) == (2, 24)
    # Not a backup of this naming: ignored.
    (tmp_path / "offsite" / "notes").mkdir()
    latest = store.find("latest")
    assert (latest.backup_id, latest.files, latest.size_bytes) == (newer.name, 2, 24)
    assert store.find(older.name).backup_id == older.name
    with pytest.raises(BackupNotFound, match="weaviate-20261206-110000"):
        store.find("weaviate-20260101-000000")

    target = tmp_path / "weaviate-backups" / newer.name
    target.parent.mkdir()
    assert store.download(newer.name, target) == 2
    assert (target / "node" / "chunk-1").read_text() == "xyz"
    assert not target.with_name(target.name + ".partial").exists()

    store.delete(older.name)
    assert [b.backup_id for b in store.backups()] == [newer.name]


REPO = Path(__file__).resolve().parents[2]


def test_weaviate_is_published_where_its_service_says() -> None:
    (service,) = [d for d in yaml.safe_load_all((REPO / "k8s" / "kind-weaviate.yaml").read_text())]
    base = next(
        d
        for d in yaml.safe_load_all((REPO / "k8s" / "base" / "weaviate.yaml").read_text())
        if d and d["kind"] == "Service"
    )
    # The same pods as the cluster's own Service, only published.
    assert service["metadata"]["namespace"] == base["metadata"]["namespace"] == "eleanor-vector"
    assert service["spec"]["selector"] == base["spec"]["selector"]
    assert service["spec"]["type"] == "NodePort"
    node_ports = {p["name"]: p["nodePort"] for p in service["spec"]["ports"]}
    assert set(node_ports) == {"http", "grpc"}

    cluster = yaml.safe_load((REPO / "k8s" / "kind-cluster.yaml").read_text())
    published = {
        m["containerPort"]: m
        for m in cluster["nodes"][0]["extraPortMappings"]
        if m["containerPort"] in node_ports.values()
    }
    http, grpc = published[node_ports["http"]], published[node_ports["grpc"]]
    assert http["listenAddress"] == grpc["listenAddress"] == "127.0.0.1"
    annotations = service["metadata"]["annotations"]
    assert annotations[PUBLISHED_URL] == f"http://127.0.0.1:{http['hostPort']}"
    assert annotations[PUBLISHED_GRPC_PORT] == str(grpc["hostPort"])
    # kind-up.sh applies it; only kind does.
    assert (
        'k apply -f "$repo/k8s/kind-weaviate.yaml"' in (REPO / "scripts" / "kind-up.sh").read_text()
    )
    for overlay in ("base", "production", "dr"):
        assert "kind-weaviate" not in (REPO / "k8s" / overlay / "kustomization.yaml").read_text()


def test_simulated_pods_get_no_precedent_ledger() -> None:
    # KWOK's pods run no Weaviate: the drills record their Weaviate checks as not run instead.
    target = cast(Target, SimpleNamespace(config=load_config(REPO / "configs" / "kwok-local.toml")))
    assert kubernetes_ledger(target) is None
