"""Every companion kind drillbook knows, in start order (drillbook.core.companions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drillbook.core.companions import Companion
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

CompanionFactory = Callable[["Target", "DrillIdentity"], "Companion[Drill] | None"]


def companion_factories() -> list[CompanionFactory]:
    """Every companion kind drillbook knows, in start order (imported lazily: optional deps)."""
    from drillbook.backup.companion import backup_companion
    from drillbook.companions.buffered_writes import buffered_writes_companion
    from drillbook.companions.cache_watch import cache_watch_companion
    from drillbook.companions.health_blind_spot import health_blind_spot_companion
    from drillbook.companions.pod_recovery import pod_recovery_companion
    from drillbook.companions.self_recovery import self_recovery_companion
    from drillbook.companions.shutdown_watch import shutdown_watch_companion
    from drillbook.companions.silent_degradation import silent_degradation_companion
    from drillbook.ledger.configuration import configuration_companion
    from drillbook.ledger.writer import ledger_companion
    from drillbook.load.companion import load_companion
    from drillbook.scenarios.sites.companion import site_recovery_companion
    from drillbook.scenarios.vector_store.companion import precedent_ledger

    # The load last: its start waits for a baseline of traffic, which then covers the others.
    return [
        site_recovery_companion,
        pod_recovery_companion,
        shutdown_watch_companion,
        self_recovery_companion,
        health_blind_spot_companion,
        silent_degradation_companion,
        cache_watch_companion,
        precedent_ledger,
        configuration_companion,
        backup_companion,
        ledger_companion,
        # After the ledger: it reads the ledger's read-backs.
        buffered_writes_companion,
        load_companion,
    ]
