"""The cache's addresses on kind are written in three places that must agree: the pods' scripts
(k8s/kind-redis.yaml: a data node on 6379 + its ordinal, a Sentinel on 26379 + its ordinal),
the Sentinels the application is told (deploy/kind/overlay) and the Sentinels and nodes the
drills reach (configs/kind.toml [cache]). A port changed in one place alone would make the
cache drills fail on the cluster; here it fails in a second."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from drillbook.config.loader import load_config

REPO = Path(__file__).resolve().parents[2]
NODE_ADDRESS = "172.16.240.2"


def manifest() -> list[dict[str, Any]]:
    text = (REPO / "k8s" / "kind-redis.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def named(kind: str, name: str) -> dict[str, Any]:
    (document,) = [d for d in manifest() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def script_ports(variable: str) -> list[int]:
    common = named("ConfigMap", "redis-kind-scripts")["data"]["common.sh"]
    match = re.search(rf"^{variable}=\(([0-9 ]+)\)$", common, re.MULTILINE)
    assert match is not None, f"{variable}=(...) not in common.sh"
    return [int(port) for port in match.group(1).split()]


def overlay_sentinels() -> list[str]:
    text = (REPO / "deploy" / "kind" / "overlay" / "kustomization.yaml").read_text()
    match = re.search(r"name: ELEANOR_CACHE__SENTINELS, value: \"([^\"]+)\"", text)
    assert match is not None, "the overlay does not tell the API its Sentinels"
    return match.group(1).split(",")


def test_every_pod_has_a_port_and_the_drills_know_each_one() -> None:
    cache = load_config(REPO / "configs" / "kind.toml").cache
    node_ports = script_ports("node_ports")
    sentinel_ports = script_ports("sentinel_ports")
    assert named("StatefulSet", "redis")["spec"]["replicas"] == len(node_ports)
    assert named("StatefulSet", "redis-sentinel")["spec"]["replicas"] == len(sentinel_ports)
    assert dict(cache.nodes) == {
        f"redis-{ordinal}": f"{NODE_ADDRESS}:{port}" for ordinal, port in enumerate(node_ports)
    }
    assert list(cache.sentinels) == [f"{NODE_ADDRESS}:{port}" for port in sentinel_ports]
    # The application asks the same Sentinels the drills ask.
    assert overlay_sentinels() == list(cache.sentinels)


def test_the_pods_declare_no_ports_on_the_node_network() -> None:
    # A declared port on hostNetwork is a host port: both pods of one template would claim it
    # and the second would never be scheduled.
    for name in ("redis", "redis-sentinel"):
        spec = named("StatefulSet", name)["spec"]
        assert spec["podManagementPolicy"] == "Parallel", name
        pod = spec["template"]["spec"]
        assert pod["hostNetwork"] is True, name
        for container in pod["containers"]:
            assert "ports" not in container, (name, container["ports"])
