"""The site recovery companion of scenario 6: the figures a site-loss drill adds to the record.

- the replication state at the moment of the fault (how far behind each copy was);
- the time spent in each runbook step (fence, promote, restore Weaviate, start, switch);
- each service's recovery at the new site (the fault to the end of the step that brought it
  back: database, vector store, application), judged against its tier's RTO;
- the full service restoration: from the fault to the end of the verification (every service
  operational and the data verified), judged against the plan's `rto_full` (4 hours), beside
  the RTO users saw, which the drill judges against the critical tier's objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.config.durations import format_duration
from drillbook.core.companions import Attachment
from drillbook.core.timeline import EventKind
from drillbook.errors import DrillError

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

SCENARIO = "complete-infrastructure-failure"


SERVICE_STEPS = (
    ("promote the database", "database"),
    ("restore the database", "database"),
    ("restore Weaviate", "vector_store"),
    ("start the application", "app"),
)
"""Runbook steps (by the start of their name) after which a service serves again at the new
site, and the component whose tier's RTO it is judged by."""


class SiteRecovery:
    name = "site_recovery"

    def __init__(self, rto_full_seconds: float, service_objectives: Mapping[str, float]) -> None:
        self.rto_full_seconds = rto_full_seconds
        self.service_objectives = dict(service_objectives)
        """RTO objective (seconds) per component, from its tier in the configuration."""
        self._drill: Drill | None = None

    def start(self, drill: Drill) -> None:
        self._drill = drill

    def stop(self, drill: Drill) -> None:
        self._drill = drill

    def attachments(self) -> list[Attachment]:
        return []

    def full_restoration_seconds(self) -> float | None:
        """Fault to the end of the last verification (None before it has passed)."""
        drill = self._drill
        if drill is None or drill.fault_at is None:
            return None
        verified = [e for e in drill.timeline.events if e.kind is EventKind.VERIFIED]
        if not verified or not all(verified[-1].details.get("results", {}).values()):
            return None
        return verified[-1].at - drill.fault_at

    def figures(self) -> Mapping[str, Any]:
        drill = self._drill
        if drill is None:
            return {}
        figures: dict[str, Any] = {"rto_full_objective_seconds": self.rto_full_seconds}
        for event in drill.timeline.events:
            if event.kind is EventKind.FAULT_INJECTED:
                figures["replication_at_fault"] = event.details.get("replication_at_fault")
        steps: dict[str, float] = {}
        started: dict[str, float] = {}
        for event in drill.timeline.events:
            if event.kind is EventKind.RECOVERY_STARTED:
                started[event.name] = event.at
            elif event.kind is EventKind.RECOVERY_FINISHED and event.name in started:
                steps[event.name] = round(event.at - started.pop(event.name), 3)
        figures["runbook_steps_seconds"] = steps
        # What the drill noted along the way (the off-site backups taken, the rebuild and the
        # switch back of a failback, its outage as users saw it), by note.
        figures["notes"] = {
            event.name: dict(event.details)
            for event in drill.timeline.events
            if event.kind is EventKind.NOTE
        }
        full = self.full_restoration_seconds()
        figures["full_restoration_seconds"] = None if full is None else round(full, 3)
        figures["services_ready_after_seconds"] = {
            component: round(seconds, 3) for component, seconds in self.services_ready().items()
        }
        figures["service_rto_objectives_seconds"] = {
            component: self.service_objectives.get(component)
            for component in figures["services_ready_after_seconds"]
        }
        return figures

    def services_ready(self) -> dict[str, float]:
        """Seconds from the fault until each service served again at the new site (the end of
        the runbook step that brought it back)."""
        drill = self._drill
        if drill is None or drill.fault_at is None:
            return {}
        ready: dict[str, float] = {}
        for event in drill.timeline.events:
            if event.kind is not EventKind.RECOVERY_FINISHED:
                continue
            for prefix, component in SERVICE_STEPS:
                if event.name.startswith(prefix):
                    ready[component] = event.at - drill.fault_at
        return ready

    def objective_breaches(self, drill: Drill) -> list[str]:
        self._drill = drill
        breaches = []
        for component, seconds in self.services_ready().items():
            allowed = self.service_objectives.get(component)
            if allowed is not None and seconds > allowed:
                breaches.append(
                    f"RTO breach: {component} served again at the new site {seconds:.3f}s "
                    f"after the fault, beyond its tier's {format_duration(allowed)} by "
                    f"{seconds - allowed:.3f}s"
                )
        full = self.full_restoration_seconds()
        if full is not None and full > self.rto_full_seconds:
            breaches.append(
                f"RTO breach: full service restoration took {full:.3f}s from the fault to the "
                f"last verified check, beyond the plan's {format_duration(self.rto_full_seconds)}"
                f" (rto_full) by {full - self.rto_full_seconds:.3f}s"
            )
        return breaches


def site_recovery_companion(target: Target, identity: DrillIdentity) -> SiteRecovery | None:
    """The companion factory: for scenario 6 drills only."""
    if identity.scenario != SCENARIO:
        return None
    config = target.config
    objectives: dict[str, float] = {}
    for _, component in SERVICE_STEPS:
        try:
            objectives[component] = config.objectives.rto_for(config.tier_of(component))
        except DrillError:  # a component this configuration does not declare: not judged
            continue
    return SiteRecovery(config.objectives.rto_full_seconds, objectives)
