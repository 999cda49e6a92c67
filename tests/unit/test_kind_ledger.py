"""configs/kind.toml measures data loss as the embedded stack does, and can read it back.

The database drill's Option A checks the evidence count and the hash chain against the write
ledger; on kind that needs a [ledger] like the embedded stack's, PostgreSQL reachable from the
runner (a kind-only NodePort mapped to loopback) and the DSN exported by the workflow and the
README under the name the configuration gives.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml

from drillbook.config import load_config
from drillbook.errors import ConfigError
from drillbook.ledger.sources import TableSource
from drillbook.ledger.writer import record_source
from drillbook.target import Target

REPO = Path(__file__).resolve().parents[2]
KIND = REPO / "configs" / "kind.toml"
DSN_PORT = re.compile(r"postgresql://eleanor:\$[A-Z_]*PASSWORD@127\.0\.0\.1:(\d+)/")
"""The loopback port of the DSN as written (kind-up.sh's drill.env, the configuration's comment)."""


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kind_writes_evidence_through_the_service_as_the_embedded_stack_does() -> None:
    kind, embedded = load_config(KIND).ledger, load_config(None).ledger

    assert kind.write_path == embedded.write_path == "/deliberate"
    assert (kind.rate_per_second, kind.records, kind.source, kind.table) == (
        embedded.rate_per_second,
        embedded.records,
        embedded.source,
        embedded.table,
    )
    assert (kind.max_writes, kind.max_duration_seconds, kind.timeout_seconds) == (
        embedded.max_writes,
        embedded.max_duration_seconds,
        embedded.timeout_seconds,
    )
    # Off the embedded stack the table's DSN comes from the environment, never the file.
    assert kind.dsn_env == "ELEANOR_EVIDENCE_DSN"
    assert "postgresql://" not in KIND.read_text().split("[ledger]", 1)[1].split("dsn_env")[1]


def test_the_ledger_reads_the_table_at_the_exported_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    target = cast(Target, SimpleNamespace(config=load_config(KIND), stack=None))
    monkeypatch.delenv("ELEANOR_EVIDENCE_DSN", raising=False)
    with pytest.raises(ConfigError, match="'ELEANOR_EVIDENCE_DSN' holding the DSN is not set"):
        record_source(target)

    monkeypatch.setenv("ELEANOR_EVIDENCE_DSN", "postgresql://eleanor:x@127.0.0.1:15432/eleanor_v8")
    source = record_source(target)
    assert isinstance(source, TableSource)
    assert source.description == "table evidence_records"


def test_postgres_is_published_on_the_loopback_port_of_the_exported_dsn() -> None:
    (service,) = yaml_documents(REPO / "k8s" / "kind-postgres.yaml")
    base = next(
        d for d in yaml_documents(REPO / "k8s" / "base" / "postgres.yaml") if d["kind"] == "Service"
    )
    # The same pods and port as the cluster's own Service, only published.
    assert service["metadata"]["namespace"] == base["metadata"]["namespace"] == "eleanor-db"
    assert service["spec"]["selector"] == base["spec"]["selector"]
    assert service["spec"]["type"] == "NodePort"
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == base["spec"]["ports"][0]["targetPort"]

    cluster = yaml.safe_load((REPO / "k8s" / "kind-cluster.yaml").read_text())
    (mapping,) = [
        m
        for m in cluster["nodes"][0]["extraPortMappings"]
        if m["containerPort"] == port["nodePort"]
    ]
    assert mapping["listenAddress"] == "127.0.0.1"
    for document in ("scripts/kind-up.sh", "configs/kind.toml"):
        ports = DSN_PORT.findall((REPO / document).read_text())
        assert ports and set(ports) == {str(mapping["hostPort"])}, document


def test_only_kind_publishes_postgres() -> None:
    base = yaml.safe_load((REPO / "k8s" / "base" / "kustomization.yaml").read_text())
    assert "kind-postgres.yaml" not in " ".join(base["resources"])
    for overlay in ("production", "dr"):
        text = (REPO / "k8s" / overlay / "kustomization.yaml").read_text()
        assert "kind-postgres" not in text


def test_kind_up_publishes_postgres_after_deploying_and_the_workflow_reads_the_dsn() -> None:
    kind_up = (REPO / "scripts" / "kind-up.sh").read_text()
    deploy = kind_up.index('k apply -k "$stack"')
    assert kind_up.index('k apply -f "$repo/k8s/kind-postgres.yaml"') > deploy
    # The DSN holds the database password: it goes to drill.env (mode 0600), never to stdout.
    assert kind_up.index("ELEANOR_EVIDENCE_DSN") < kind_up.index('>"$drill_env"')
    workflow = (REPO / ".github" / "workflows" / "drills.yml").read_text()
    drill_env = "~/.cache/drillbook/kind-clusters/drillbook-kind/drill.env"
    masked = workflow.index('echo "::add-mask::$value"; done < ' + drill_env)
    assert masked < workflow.index(f"set -a; . {drill_env}; set +a")
    sourced = workflow.index(f"set -a; . {drill_env}; set +a")
    assert sourced < workflow.index("\n          pytest drills/monthly")
