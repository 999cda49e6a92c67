"""The database restore drills of the DR plan (scenario 2, Option B) on the kind cluster's
postgres-0, run as a user runs them (pytest in a subprocess with --drillbook-config
configs/kind.toml): the control file damaged in the data volume, then

- point-in-time recovery (base backup + archived WAL + the WAL salvaged from the failed volume)
  restores every acknowledged evidence record, with an RTO within the objective;
- the plan's daily dump alone loses what was written after it: the drill reports its expected RPO
  breach (xfail strict, as on every platform) with the figures.

Afterwards postgres-0 is Ready on its deployed volume (data-postgres-0) and the evidence table is
there with its records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.kind.cluster import REPO, KindCluster, run_drills

CONFIG = REPO / "configs" / "kind.toml"
PITR = "B: data file damaged, restore from backup with PITR"
DUMP = "B: data file damaged, restore from the daily dump only"
# Two drills, each with its baseline, backups, fault (two scalings and a Job), restore (a Job)
# and verification window.
RUN_TIMEOUT_SECONDS = 600.0


@pytest.fixture(scope="module")
def kind_run(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    runs: Path = tmp_path_factory.mktemp("kind-runs")
    return run_drills(
        kind_cluster,
        runs,
        ["drills/monthly/test_database_failure.py", "-k", "pitr or daily_dump"],
        RUN_TIMEOUT_SECONDS,
    )


def _drills(run: Any) -> dict[str, Any]:
    drills = {d["option"]: d for d in run["drills"]}
    assert set(drills) == {PITR, DUMP}, run["output"]
    return drills


def test_pitr_restores_every_acknowledged_write_within_the_rto(kind_run: Any) -> None:
    drill = _drills(kind_run)[PITR]
    assert kind_run["platform"] == "kubernetes", kind_run["platform"]
    assert drill["outcome"] == "passed", f"{drill['failure']}\n{kind_run['output']}"
    ledger = drill["rpo"]
    assert ledger["acknowledged"] > 0 and ledger["lost"] == 0, ledger
    rto = drill["rto"]
    assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
    print(f"kind PITR: RTO {rto['seconds']} s, {ledger['lost']} of {ledger['acknowledged']} lost")


def test_the_daily_dump_reports_its_expected_rpo_breach(kind_run: Any) -> None:
    drill = _drills(kind_run)[DUMP]
    # xfail strict on DataLossDetected: the breach is what the drill exists to show.
    assert drill["outcome"] in ("xfailed", "expected failure"), drill
    ledger = drill["rpo"]
    assert 0 < ledger["lost"] < ledger["acknowledged"], ledger
    # Writes went on for 2 s after the dump (WRITES_AFTER_BACKUP_SECONDS), one every 0.2 s.
    assert ledger["seconds"] >= 1.8, ledger
    assert "RPO breach" in (drill["failure"] or ""), drill["failure"]
    assert [b["kind"] for b in drill["breaches"]] == ["rpo"], drill["breaches"]
    rto = drill["rto"]
    assert rto["outage_observed"] and rto["within_objective"], rto
    print(
        f"kind dump: {ledger['lost']} of {ledger['acknowledged']} lost, "
        f"RPO {ledger['seconds']} s, RTO {rto['seconds']} s"
    )


def test_postgres_is_back_on_its_volume_with_the_evidence(
    kind_run: Any, kind_cluster: KindCluster
) -> None:
    statefulset = kind_cluster.kubectl_json("-n", "eleanor-db", "get", "statefulset/postgres")
    assert statefulset["spec"]["replicas"] == 1, statefulset["spec"]
    pod = kind_cluster.kubectl_json("-n", "eleanor-db", "get", "pod/postgres-0")
    ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    assert pod["status"]["phase"] == "Running" and ready.get("Ready") == "True", pod["status"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"data": "data-postgres-0", "backups": "postgres-backups"}, claims
    jobs = kind_cluster.kubectl_json("-n", "eleanor-db", "get", "jobs")
    assert [j["metadata"]["name"] for j in jobs["items"]] == [], "restore Jobs left behind"
    dsn = kind_cluster.env()["ELEANOR_EVIDENCE_DSN"]
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT COUNT(*) FROM evidence_records").fetchone()
        recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row is not None and row[0] > 0, row
    assert recovery is not None and recovery[0] is False, recovery
