"""configs/kind.toml's secrets providers are the ones k8s/kind-secrets.yaml runs: each names a
component whose namespace, selector and workload are that manifest's Deployment, reached at the
loopback port k8s/kind-cluster.yaml publishes for the Deployment's NodePort, and in the
allow-list; and a provider naming a component is what makes drillbook seed it as the cluster's
own (drillbook.scenarios.secrets.stores). The drills themselves run in
tests/kind/test_secrets_drills_on_kind.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from drillbook.config.loader import load_config
from drillbook.scenarios.secrets.stores import _runs_in_cluster

REPO = Path(__file__).resolve().parents[2]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _published_ports() -> dict[int, int]:
    """NodePort -> loopback port, from k8s/kind-cluster.yaml's extraPortMappings."""
    (cluster,) = _documents(REPO / "k8s" / "kind-cluster.yaml")
    return {
        m["containerPort"]: m["hostPort"]
        for node in cluster["nodes"]
        for m in node.get("extraPortMappings", [])
    }


@pytest.mark.parametrize("provider", ["vault", "aws"])
def test_each_kind_provider_is_a_workload_of_the_secrets_manifest(provider: str) -> None:
    config = load_config(REPO / "configs" / "kind.toml")
    vault, aws = config.secrets.vault, config.secrets.aws
    settings = vault if provider == "vault" else aws
    url = vault.address if provider == "vault" else aws.endpoint_url
    assert provider in config.secrets.providers
    assert _runs_in_cluster(config, provider)
    component = config.target.components[str(settings.component)]
    assert component.role == "secrets"
    documents = _documents(REPO / "k8s" / "kind-secrets.yaml")
    kind, name = str(component.workload).split("/")
    (deployment,) = [
        d for d in documents if d["kind"].lower() == kind and d["metadata"]["name"] == name
    ]
    assert deployment["metadata"]["namespace"] == component.namespace
    key, value = str(component.selector).split("=")
    assert deployment["spec"]["template"]["metadata"]["labels"][key] == value
    assert component.namespace in config.allow.namespaces
    assert component.workload in config.allow.workloads
    (service,) = [d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == name]
    node_port = service["spec"]["ports"][0]["nodePort"]
    address = urlsplit(str(url))
    assert address.hostname == "127.0.0.1"
    assert _published_ports()[node_port] == address.port


def test_a_provider_without_a_component_is_not_the_clusters_own(tmp_path: Path) -> None:
    path = tmp_path / "drillbook.toml"
    path.write_text(
        '[[target.probes]]\nname = "health"\npath = "/health"\n'
        '[secrets]\nproviders = ["vault", "aws"]\n'
        '[secrets.vault]\naddress = "https://vault.example:8200"\n'
    )
    config = load_config(path)
    assert not _runs_in_cluster(config, "vault")
    assert not _runs_in_cluster(config, "aws")
