"""What the quarterly checks catch, shown on real two-site deployments:

- with asynchronous replication, evidence acknowledged by the primary while the inter-site
  link is cut never reaches the DR site: after the primary's loss and the failover, the data
  objectives fail ("RPO breach ... evidence record(s) lost"); with synchronous replication the
  same writes are never acknowledged, and the failover loses none;
- without the fence step, a partitioned primary keeps acknowledging the writes of the users on
  its side of the cut after the DR site is promoted: the split-brain check fails and names it.

Each test drives a drill through the same fixtures and steps as drills/quarterly.
"""

from __future__ import annotations

import pytest

from drillbook.engine.drill import Drill
from drillbook.errors import DataLossDetected, VerificationFailed
from drillbook.scenarios.database.checks import evidence_count_matches_ledger
from drillbook.scenarios.sites.checks import LocalUsers, no_split_brain
from drillbook.scenarios.sites.faults import cut_replication, lose_site, partition_site
from drillbook.scenarios.sites.runbook import (
    fail_over,
    promote_database,
    take_offsite_backups,
)
from drillbook.sites.deployment import TwoSites
from drillbook.target import Target
from fixtures.sites import drill_target, two_sites

__all__ = ["drill_target", "two_sites"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.drill(scenario="complete-infrastructure-failure", component="app"),
]

CUT_SECONDS = 3.0
"""How long users write while only the inter-site link is down (several ledger writes)."""


def _lose_primary_after_cut(drill: Drill, sites: TwoSites) -> None:
    primary, dr = sites.settings.primary, sites.settings.dr
    with drill.phase("backup", "backup: the scheduled off-site backups"):
        take_offsite_backups(sites)
    cut = cut_replication(sites)
    drill.undo.push(cut.undo)
    with drill.phase("cut", "the inter-site link cut; users keep writing at the primary"):
        cut.inject()
        drill.clock.sleep(CUT_SECONDS)
    drill.inject(lose_site(sites, primary))
    drill.wait_until_detected()
    drill.recover(*fail_over(sites, to=dr, fence=primary))
    drill.wait_until_recovered()


@pytest.mark.sites(replication="async")
@pytest.mark.drill(option="async: evidence acknowledged during a link cut, then the site lost")
def test_async_replication_loses_evidence_acknowledged_during_a_cut(
    drill: Drill, two_sites: TwoSites
) -> None:
    _lose_primary_after_cut(drill, two_sites)
    with pytest.raises(DataLossDetected, match=r"RPO breach: \d+ acknowledged evidence record"):
        drill.assert_objectives()
    ledger = drill.figures()["ledger"]
    # Writes were acknowledged during the cut, and those are what the DR site never got.
    assert ledger["lost"] >= 1, ledger
    check = evidence_count_matches_ledger(drill)
    assert not check.passed, check.detail


@pytest.mark.sites(replication="sync")
@pytest.mark.drill(option="sync: the same cut and site loss, evidence waits for the DR copy")
def test_sync_replication_loses_no_acknowledged_evidence(drill: Drill, two_sites: TwoSites) -> None:
    _lose_primary_after_cut(drill, two_sites)
    drill.assert_objectives()
    ledger = drill.figures()["ledger"]
    assert ledger["lost"] == 0, ledger
    # During the cut the primary acknowledged nothing: those writes failed (not lost).
    assert ledger["failed_writes"] >= 1, ledger
    check = evidence_count_matches_ledger(drill)
    assert check.passed, check.detail


@pytest.mark.sites(replication="async")
@pytest.mark.drill(option="partition without the fence step: split brain")
def test_split_brain_check_fails_without_the_fence(
    drill: Drill, two_sites: TwoSites, drill_target: Target
) -> None:
    primary, dr = two_sites.settings.primary, two_sites.settings.dr
    with drill.phase("backup", "backup: the scheduled off-site backups"):
        take_offsite_backups(two_sites)
    local = LocalUsers(two_sites, primary, drill.config.ledger, drill_target.tokens)
    local.start()
    promoted_at: list[float] = []
    try:
        drill.inject(partition_site(two_sites, primary))
        drill.wait_until_detected()
        drill.recover(promote_database(two_sites, dr))  # no fence_site(...) first
        promoted_at.append(drill.clock.monotonic())
        drill.clock.sleep(2.0)  # the users on the primary's side keep writing there
        with pytest.raises(VerificationFailed, match="split brain: the old primary at") as info:
            drill.verify(no_split_brain(local, promoted_at, dr=dr), window_seconds=0.0)
    finally:
        local.stop()
    assert "acknowledged" in str(info.value)
    assert local.acknowledged_since(promoted_at[0]) >= 1
