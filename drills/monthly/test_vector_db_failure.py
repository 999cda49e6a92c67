"""Scenario 4 of the DR plan: Vector Database (Weaviate) Failure.

Symptoms: precedent retrieval failures, embedding storage failures, similarity search errors.
Recovery actions (10-30 min):
  Option A, pod restart: `kubectl delete pod -n eleanor-vector weaviate-0`, then
            `kubectl wait --for=condition=ready pod -n eleanor-vector -l app=weaviate --timeout=5m`
  Option B, restore from backup: `./scripts/restore_weaviate.sh --backup=latest`
Verification (30-35 min): Weaviate connectivity, precedent retrieval, embedding storage,
application health.

Beside each drill the precedent ledger stores known precedents and writes numbered ones through
the service, so the drill counts which acknowledged precedents came back (RPO) and checks that
known queries still find their precedents.

On a target without an end-to-end probe (simulated pods) Option A runs at the platform level
(weaviate-0 killed, recreated by its StatefulSet, Ready; timed on the API server's clock) and the
Weaviate and precedent checks are recorded as not run; Option B restores through Weaviate's
backup API, so it needs a running Weaviate.
"""

from __future__ import annotations

import pytest

from drillbook.config.model import Component
from drillbook.engine.drill import Drill
from drillbook.engine.reach import reaches_service, service_checks
from drillbook.scenarios.common import error_rate_normal, health_checks_pass
from drillbook.scenarios.vector_store.checks import (
    application_health,
    assert_precedent_rpo,
    embedding_storage,
    ledger_of,
    precedent_retrieval,
    weaviate_connectivity,
)
from drillbook.scenarios.vector_store.faults import (
    destroy_vector_data,
    kill_vector_store,
    quarantine_dir,
)
from drillbook.scenarios.vector_store.runbook import restart_vector_store, restore_vector_store

pytestmark = pytest.mark.drill(scenario="vector-database-failure", component="vector_store")

VERIFICATION = (
    weaviate_connectivity,
    precedent_retrieval,
    embedding_storage,
    application_health,
    health_checks_pass,
    error_rate_normal,
)
PLATFORM_VERIFICATION = (health_checks_pass, error_rate_normal)
WEAVIATE_VERIFICATION = VERIFICATION[:4]
# Precedents acknowledged after the backup and before the fault: what a restore must lose.
WRITES_AFTER_BACKUP = 4


@pytest.mark.drill(option="A: Weaviate killed, pod restart")
def test_weaviate_killed_recovered_by_restart(vector_store: Component, drill: Drill) -> None:
    """Weaviate killed: recovered by the plan's pod restart, with no precedent lost."""
    drill.inject(kill_vector_store(drill.platform, vector_store.name))
    drill.wait_until_detected()
    drill.recover(restart_vector_store(drill.platform, vector_store))
    drill.wait_until_recovered()
    drill.verify(*service_checks(drill, *WEAVIATE_VERIFICATION), *PLATFORM_VERIFICATION)
    drill.assert_objectives()
    if reaches_service(drill, "precedent RPO (acknowledged precedents read back)"):
        assert_precedent_rpo(drill)


@pytest.mark.drill(
    option="B: data lost, restore from the latest backup",
    needs_service="Weaviate (the restore goes through its backup API)",
)
def test_weaviate_data_lost_restored_from_backup(vector_store: Component, drill: Drill) -> None:
    """Weaviate's volume lost: recovered by restoring the latest backup from S3."""
    precedents = ledger_of(drill)
    with drill.phase("backup", "backup: scripts/backup_weaviate.sh (backup API, export, S3)"):
        precedents.backups.create()
        precedents.wait_for_acks_after(drill.clock.monotonic(), count=WRITES_AFTER_BACKUP)
    weaviate = precedents.backups.endpoint
    drill.inject(
        destroy_vector_data(
            drill.platform,
            vector_store.name,
            data_path=weaviate.data_path,
            backup_path=weaviate.backup_path,
            quarantine=quarantine_dir(weaviate.data_path.parent),
        )
    )
    drill.wait_until_detected()
    drill.recover(restore_vector_store(drill.platform, vector_store, precedents.backups))
    drill.wait_until_recovered()
    drill.verify(*VERIFICATION)
    drill.assert_objectives()
    assert_precedent_rpo(drill)
