"""Scenario 6 of the DR plan, Complete Infrastructure Failure, and the quarterly full DR test.

Symptoms: all services unavailable, complete loss of connectivity. Recovery (15 min - 4 h):
Option A fail over to the DR site (`kubectl config use-context dr-cluster && kubectl apply -f
k8s/dr/`); Option B restore from backup (`terraform apply`, `./scripts/restore_all.sh
--backup=latest`, `kubectl apply -f k8s/production/`). Verification: all services operational,
critical endpoints, data integrity, system health. The quarterly procedure: fail over to the DR
site, verify all services, test data integrity, fail back to the primary, document results.

On the embedded stack, each drill runs on a fresh two-site deployment (drillbook.sites): a
primary and a DR site in their own network namespaces, PostgreSQL streaming from the primary to
the DR site, WAL shipped off-site (to S3 in another "region", and streamed to an off-site WAL
receiver), and a front door users reach. On Kubernetes (kubernetes.dr_context set) the last
drill fails over between two clusters at the platform level instead. The load and the write
ledger run through the front door all along:
every acknowledged write is held to the plan's objectives after the site is lost (evidence:
zero lost; anything else: 5 minutes), and the time users were without the service to the
critical tier's RTO; the whole restoration to `rto_full` (4 h).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from drillbook.core.recovery import combine, measure_recovery
from drillbook.core.steps import Check, RecoveryStep
from drillbook.engine.drill import Drill
from drillbook.engine.reach import service_checks
from drillbook.errors import DataLossDetected
from drillbook.scenarios.common import (
    critical_endpoints_respond,
    error_rate_normal,
    health_checks_pass,
)
from drillbook.scenarios.database.checks import (
    data_integrity_verified,
    evidence_count_matches_ledger,
)
from drillbook.scenarios.sites.checks import (
    LocalUsers,
    all_services_operational,
    configuration_intact,
    no_split_brain,
)
from drillbook.scenarios.sites.cluster_faults import lose_primary_cluster
from drillbook.scenarios.sites.cluster_runbook import (
    activate_dr_cluster,
    every_component_ready_at,
    switch_users_to,
)
from drillbook.scenarios.sites.faults import lose_site, partition_site
from drillbook.scenarios.sites.runbook import (
    fail_over,
    fence_site,
    promote_database,
    rebuild_site_as_standby,
    restore_database_from_dump,
    restore_site_from_backup,
    restore_vector_store,
    start_application,
    switch_back,
    switch_front_door,
    take_offsite_backups,
)
from drillbook.scenarios.vector_store.checks import precedent_retrieval
from drillbook.sites.clusters import DR, TwoClusters
from drillbook.sites.deployment import TwoSites
from drillbook.target import Target

pytestmark = pytest.mark.drill(scenario="complete-infrastructure-failure", component="app")

WRITES_AFTER_BACKUP_SECONDS = 3.0
"""Writes between the scheduled backups and the site loss: what only replication (Option A),
the shipped WAL (Option B) or nothing (the plan as written) still holds."""


def _backups(drill: Drill, sites: TwoSites) -> None:
    with drill.phase("backup", "backup: the scheduled off-site backups, then more writes"):
        drill.note("off-site backups", **take_offsite_backups(sites))
        drill.clock.sleep(WRITES_AFTER_BACKUP_SECONDS)


def _verification(sites: TwoSites, site: str, *, error_rates: bool = True) -> tuple[Check, ...]:
    # After a failback the probes saw the planned switch-back outage since the first recovery:
    # it is measured on its own (failback_rto_seconds), not counted as an error rate.
    return (
        health_checks_pass,
        critical_endpoints_respond,
        *((error_rate_normal,) if error_rates else ()),
        all_services_operational(sites, site),
        configuration_intact(sites, site),
        evidence_count_matches_ledger,
        data_integrity_verified,
        precedent_retrieval,
    )


@pytest.mark.drill(option="A: primary site lost, fail over to the DR site")
def test_primary_site_lost_failover_to_dr(drill: Drill, two_sites: TwoSites) -> None:
    """The primary site is lost: the DR site takes over with every acknowledged write."""
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    _backups(drill, two_sites)
    drill.inject(lose_site(two_sites, primary))
    drill.wait_until_detected()
    drill.recover(*fail_over(two_sites, to=dr, fence=primary))
    drill.wait_until_recovered()
    drill.verify(*_verification(two_sites, dr))
    drill.assert_objectives()


@pytest.mark.sites(dr_standby=False)
@pytest.mark.drill(option="B: primary site lost, DR site rebuilt from the off-site backups")
def test_primary_site_lost_restored_from_offsite_backup(drill: Drill, two_sites: TwoSites) -> None:
    """The primary site is lost and the DR site is cold: rebuilt from the off-site store only."""
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    _backups(drill, two_sites)
    drill.inject(lose_site(two_sites, primary))
    drill.wait_until_detected()
    drill.recover(*restore_site_from_backup(two_sites, to=dr))
    drill.wait_until_recovered()
    drill.verify(*_verification(two_sites, dr))
    drill.assert_objectives()


@pytest.mark.drill(option="failback: after a failover, the old primary rebuilt and users back")
def test_failback_to_rebuilt_primary(drill: Drill, two_sites: TwoSites) -> None:
    """After a failover the lost primary is rebuilt from DR and users switched back: nothing
    written while on the DR site is lost."""
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    _backups(drill, two_sites)
    drill.inject(lose_site(two_sites, primary))
    drill.wait_until_detected()
    drill.recover(*fail_over(two_sites, to=dr, fence=primary))
    drill.wait_until_recovered()
    with drill.phase("rebuild", f"rebuild: site {primary} from {dr} (a fresh base backup)"):
        drill.note("rebuilt", **rebuild_site_as_standby(two_sites, primary, source=dr))
        drill.clock.sleep(WRITES_AFTER_BACKUP_SECONDS)  # users keep writing at the DR site
    with drill.phase("failback", f"failback: planned switchover {dr} -> {primary}"):
        switched_at = drill.clock.monotonic()
        drill.note("switched back", **switch_back(two_sites, to=primary))
        drill.note("failback outage", **_outage_since(drill, switched_at))
    drill.verify(*_verification(two_sites, primary, error_rates=False))
    drill.assert_objectives()


@pytest.mark.sites(replication="async")
@pytest.mark.drill(option="partition: primary cut off but alive, fenced, fail over to DR")
def test_primary_partitioned_fenced_and_failed_over(
    drill: Drill, two_sites: TwoSites, drill_target: Target
) -> None:
    """The primary is cut off from users but alive: the runbook fences it before promoting the
    DR site, so users on the primary's side of the cut can no longer write there."""
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    _backups(drill, two_sites)
    local = LocalUsers(two_sites, primary, drill.config.ledger, drill_target.tokens)
    local.start()
    try:
        promoted_at: list[float] = []
        drill.inject(partition_site(two_sites, primary))
        drill.wait_until_detected()
        drill.recover(
            fence_site(two_sites, primary),
            _timed(promote_database(two_sites, dr), promoted_at),
            restore_vector_store(two_sites, dr),
            start_application(two_sites, dr),
            switch_front_door(two_sites, dr),
        )
        drill.wait_until_recovered()
        drill.clock.sleep(2.0)  # the local users keep trying at the old primary
        drill.verify(
            *_verification(two_sites, dr),
            no_split_brain(local, promoted_at, dr=dr),
        )
    finally:
        local.stop()
    drill.assert_objectives()


@pytest.mark.xfail(
    raises=DataLossDetected,
    strict=True,
    reason="the plan as written keeps only the daily pg_dump and the daily Weaviate backup "
    "off-site: a site loss loses every write since the dump (finding; shipped WAL meets it)",
)
@pytest.mark.sites(offsite="daily", replication="async", dr_standby=False)
@pytest.mark.drill(option="B as written: site lost, restore from the daily pg_dump only")
def test_site_lost_restored_from_daily_dump_loses_writes(drill: Drill, two_sites: TwoSites) -> None:
    """The plan as written: only daily dumps off-site; a site loss loses every write since."""
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    _backups(drill, two_sites)
    drill.inject(lose_site(two_sites, primary))
    drill.wait_until_detected()
    drill.recover(
        restore_database_from_dump(two_sites, dr),
        restore_vector_store(two_sites, dr),
        start_application(two_sites, dr),
        switch_front_door(two_sites, dr),
    )
    drill.wait_until_recovered()
    drill.verify(health_checks_pass, critical_endpoints_respond)
    with pytest.raises(DataLossDetected, match=r"RPO breach: .* evidence record") as breach:
        drill.assert_objectives()
    ledger = drill.figures()["ledger"]
    assert ledger["lost"] > 0, ledger
    assert ledger["rpo_seconds"] >= WRITES_AFTER_BACKUP_SECONDS - 1.0, ledger
    raise breach.value


def _timed(step: RecoveryStep, moments: list[float]) -> RecoveryStep:
    """The step, recording when it finished (the moment the DR site became a primary)."""

    def run() -> Mapping[str, Any] | None:
        details = step.run()
        moments.append(time.monotonic())
        return details

    return RecoveryStep(name=step.name, command=step.command, run=run)


def _outage_since(drill: Drill, moment: float) -> dict[str, object]:
    """The switch back as users saw it: the probes' outage and recovery after `moment`, by the
    same rule as every RTO (the first of N consecutive healthy samples ends it); waits, within
    the drill's recovery timeout, until the probes have seen that recovery."""
    deadline = moment + drill.probing.recover_timeout_seconds
    while True:
        measured = combine(
            [
                measure_recovery(
                    drill.timeline.samples_of(name),
                    fault_at=moment,
                    healthy_streak=drill.probing.healthy_streak,
                )
                for name in drill.probe_names
            ]
        )
        if not measured.outage_observed or measured.recovered_at is not None:
            break
        if drill.clock.monotonic() >= deadline:
            break
        drill.clock.sleep(drill.poll_seconds)
    return {
        "failback_outage_observed": measured.outage_observed,
        "failback_rto_seconds": measured.rto_seconds,
        "failback_error_bar_seconds": measured.rto_error_bar_seconds,
    }


@pytest.mark.drill(
    option="A on Kubernetes: primary cluster's workloads lost, fail over to the DR cluster"
)
def test_primary_cluster_lost_failover_to_dr_cluster(
    drill: Drill,
    two_clusters: TwoClusters,
) -> None:
    """The primary cluster's workloads are lost: users fail over to the DR cluster.

    Option A on platform "kubernetes", at the platform level: every workload at the primary
    scaled to 0 (its pods gone), the DR cluster activated (`kubectl config use-context
    dr-cluster && kubectl apply -f k8s/dr/`: every component at its replicas and Ready) and
    users switched to it; the RTO is what users saw through the switch. The checks that read
    the service's data are recorded as not run where the pods run no process (KWOK).
    """
    drill.inject(lose_primary_cluster(two_clusters))
    drill.wait_until_detected()
    drill.recover(activate_dr_cluster(two_clusters), switch_users_to(two_clusters, DR))
    drill.wait_until_recovered()
    drill.verify(
        health_checks_pass,
        critical_endpoints_respond,
        every_component_ready_at(two_clusters, DR),
        *service_checks(
            drill, evidence_count_matches_ledger, data_integrity_verified, precedent_retrieval
        ),
    )
    drill.assert_objectives()
