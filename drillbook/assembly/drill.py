"""Builds a Drill for a test from its marker and the session's target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from drillbook.assembly.companions import companion_factories
from drillbook.config.model import TIERS, HttpProbe, Tier
from drillbook.core.clock import SystemClock
from drillbook.core.observer import DrillObserver
from drillbook.core.timeline import Timeline
from drillbook.engine.drill import Drill, DrillIdentity, ProbeSet
from drillbook.engine.prober import BackgroundProber
from drillbook.engine.undo import UndoStack
from drillbook.errors import InvalidDrill
from drillbook.probes.http import HttpProber
from drillbook.target import Target


def _cadence(item: pytest.Item, explicit: object) -> str:
    if isinstance(explicit, str) and explicit:
        return explicit
    parts = item.path.parts
    for cadence in ("monthly", "quarterly"):
        if cadence in parts:
            return cadence
    return "ad hoc"


def validate_marker(nodeid: str, marker: Mapping[str, Any]) -> None:
    """Refuse a drill marker that cannot describe a drill, before anything is started."""
    if not marker.get("scenario"):
        raise InvalidDrill(
            f"{nodeid}: the `drill` fixture needs @pytest.mark.drill(scenario=...) naming the "
            'plan\'s scenario, e.g. scenario="application-failure"'
        )
    tier = marker.get("tier", "critical")
    if tier not in TIERS:
        raise InvalidDrill(
            f"{nodeid}: drill marker tier={tier!r}, expected one of {', '.join(TIERS)}"
        )


def build_drill(target: Target, item: pytest.Item, marker: Mapping[str, Any]) -> Drill:
    validate_marker(item.nodeid, marker)
    tier_value: Tier = marker.get("tier", "critical")
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
    identity = DrillIdentity(
        scenario=str(marker["scenario"]),
        tier=tier_value,
        option=str(marker.get("option", "")),
        cadence=_cadence(item, marker.get("cadence")),
        title=doc[0] if doc else item.name,
    )
    config = target.config
    assert config.target.base_url is not None
    probing = config.probing
    clock = SystemClock()
    base_url = config.target.base_url

    def prober_for(probe: HttpProbe) -> HttpProber:
        return HttpProber(
            base_url,
            probe,
            timeout_seconds=probing.timeout_seconds,
            headers=probing.headers,
            tokens=target.tokens,
        )

    health = [prober_for(probe) for probe in config.target.probes]
    critical = [prober_for(probe) for probe in config.target.critical_endpoints]
    timeline = Timeline()
    # The background prober gets its own probers: httpx clients are not shared across threads.
    background = [prober_for(probe).sample for probe in config.target.probes]
    prober = BackgroundProber(
        background, timeline, clock, interval_seconds=probing.interval_seconds
    )
    observers: list[DrillObserver[Drill]] = []
    try:
        from drillbook.reporting.allure_observer import AllureObserver

        observers.append(AllureObserver(target))
    except ImportError:  # allure-pytest not installed: the drill still runs, unreported
        pass
    companions = [
        companion
        for factory in companion_factories()
        if (companion := factory(target, identity)) is not None
    ]
    return Drill(
        identity,
        config=config,
        platform=target.platform,
        prober=prober,
        probe_names=[p.name for p in config.target.probes],
        undo=UndoStack(target.journal, target.apply_undo),
        timeline=timeline,
        clock=clock,
        observers=observers,
        endpoints=ProbeSet(health=health, critical=critical),
        companions=companions,
    )
