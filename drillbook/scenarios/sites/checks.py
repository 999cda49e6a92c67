"""The quarterly test's verification items beyond the monthly ones.

- "all services operational" at the site users now reach: every component of that site running
  and ready, and the front door pointing at it;
- "no split brain": nobody acknowledged a write at the old primary after the DR site was
  promoted (a partitioned primary that keeps accepting writes from the users on its side of
  the cut makes two conflicting, acknowledged histories: neither can be kept whole).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from drillbook.config.model import LedgerSettings
from drillbook.core.steps import Check, CheckResult, checklist_item
from drillbook.ledger.sources import TableSource
from drillbook.ledger.writer import LedgerWriter
from drillbook.probes.auth import TokenProvider
from drillbook.sites.deployment import TwoSites, app_configuration_digest
from drillbook.stack.services.postgres import database_dsn

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


OPERATIONAL = (
    "database",
    "cache",
    "vector_store",
    "vault",
    "aws",
    "secrets-manager",
    "app",
    "proxy",
)
"""The site's components that serve users (the gateway and the shipper are plumbing)."""


def all_services_operational(deployment: TwoSites, site: str) -> Check:
    @checklist_item(f"all services operational at {site}")
    def check(drill: Drill) -> CheckResult:
        name = f"all services operational at {site}"
        target = deployment.site(site)
        if target.stack is None:
            return CheckResult(name, False, f"site {site} has no running stack")
        platform = target.platform()
        statuses = {
            component: target.run(platform.status, component)
            for component in target.require_stack().component_names()
            if component in OPERATIONAL
        }
        down = {c: f"{s.ready}/{s.desired} ready" for c, s in statuses.items() if not s.healthy}
        active = deployment.front_door.active()
        figures = {c: {"ready": s.ready, "desired": s.desired} for c, s in statuses.items()}
        if down or active != site:
            problems = [f"{c}: {state}" for c, state in down.items()]
            if active != site:
                problems.append(f"the front door sends users to {active or 'no site'}")
            return CheckResult(name, False, "; ".join(problems), figures)
        return CheckResult(
            name,
            True,
            f"{len(statuses)} components ready at {site}; the front door sends users there",
            figures,
        )

    return check


def configuration_intact(deployment: TwoSites, site: str) -> Check:
    """The application at `site` runs the configuration the primary was deployed with (both are
    rendered from the drillbook configuration, in version control): none of it lost."""

    @checklist_item(f"configuration intact at {site}")
    def check(drill: Drill) -> CheckResult:
        name = f"configuration intact at {site}"
        expected = deployment.configuration.get(deployment.settings.primary)
        now = app_configuration_digest(deployment.site(site).run_dir)
        figures = {"expected_sha256": expected, "found_sha256": now}
        if expected is None or now is None:
            return CheckResult(name, False, f"no application configuration at {site}", figures)
        if now != expected:
            return CheckResult(
                name,
                False,
                f"the application at {site} runs a configuration other than the primary's "
                f"(sha256 {now[:12]} against {expected[:12]}): configuration lost or drifted",
                figures,
            )
        return CheckResult(
            name, True, f"the primary's application configuration (sha256 {now[:12]})", figures
        )

    return check


class LocalUsers:
    """Users on the old primary's side of a partition: a write ledger running inside the
    site's namespace against its own front (the site's proxy on its loopback)."""

    def __init__(
        self, deployment: TwoSites, site: str, settings: LedgerSettings, tokens: TokenProvider
    ) -> None:
        self.site = deployment.site(site)
        stack = self.site.require_stack()
        self.writer = LedgerWriter(
            settings,
            objectives=deployment.config.objectives,
            base_url=f"http://127.0.0.1:{stack.port('proxy')}",
            source=TableSource(database_dsn(stack.port("postgres")), settings.table),
            ack_dir=deployment.run_dir / "local-users",
            tokens=tokens,
        )
        self._started = False

    def start(self) -> None:
        # Started from the site's thread: the writer's own thread is born inside the namespace.
        self.site.run(self.writer.start)
        self._started = True

    def stop(self) -> None:
        """Stop writing (its final read-back may fail: the old primary is fenced by then)."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                self.site.run(self.writer.stop)

    def acknowledged_since(self, moment: float) -> int:
        acks, _, _ = self.writer.snapshot()
        return sum(1 for ack in acks if ack.ack_monotonic >= moment)


def no_split_brain(local: LocalUsers, promoted_at: list[float], *, dr: str) -> Check:
    """`promoted_at` is filled by the promotion step (one monotonic time)."""

    @checklist_item("no split brain")
    def check(drill: Drill) -> CheckResult:
        name = "no split brain"
        if not promoted_at:
            return CheckResult(name, False, f"the database at {dr} was never promoted")
        since = promoted_at[0]
        at_old = local.acknowledged_since(since)
        ledger = drill.companion("ledger")
        acks_new = 0
        if isinstance(ledger, LedgerWriter):
            acks, _, _ = ledger.snapshot()
            acks_new = sum(1 for ack in acks if ack.ack_monotonic >= since)
        figures = {
            "acknowledged_at_old_primary_after_promotion": at_old,
            "acknowledged_at_new_primary_after_promotion": acks_new,
            "checked_seconds_after_promotion": round(time.monotonic() - since, 3),
        }
        if at_old > 0:
            return CheckResult(
                name,
                False,
                f"split brain: the old primary at {local.site.name} acknowledged {at_old} "
                f"write(s) after {dr} was promoted, while {dr} acknowledged {acks_new}: two "
                "conflicting histories, and the old primary's writes are on no timeline the "
                "users now reach. The runbook must fence the old primary before promoting.",
                figures,
            )
        return CheckResult(
            name,
            True,
            f"the old primary at {local.site.name} acknowledged no write after {dr} was "
            f"promoted ({acks_new} acknowledged at {dr})",
            figures,
        )

    return check
