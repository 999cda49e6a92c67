"""Builds a Drill for a test from its marker and the session's target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from drillbook.assembly.companions import companion_factories
from drillbook.config.model import DrillbookConfig, HttpProbe, Tier
from drillbook.core.clock import SystemClock
from drillbook.core.observer import DrillObserver
from drillbook.core.timeline import Timeline
from drillbook.engine.drill import Drill, DrillIdentity, ProbeSet
from drillbook.engine.prober import BackgroundProber
from drillbook.engine.stop import halt_check, halt_request_path
from drillbook.engine.undo import UndoStack
from drillbook.errors import ConfigError, InvalidDrill
from drillbook.probes.alarm import alarm_check
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


def validate_marker(nodeid: str, marker: Mapping[str, Any], config: DrillbookConfig) -> Tier:
    """Refuse a drill marker that cannot describe a drill, before anything is started; the
    drill's tier, which is its component's in the configuration (the one place tiers are set)."""
    if not marker.get("scenario"):
        raise InvalidDrill(
            f"{nodeid}: the `drill` fixture needs @pytest.mark.drill(scenario=...) naming the "
            'plan\'s scenario, e.g. scenario="application-failure"'
        )
    if "tier" in marker:
        raise InvalidDrill(
            f"{nodeid}: drill marker tier={marker['tier']!r}: a drill's tier (which RTO "
            "objective applies) comes from the configuration, [target.components.<name>] tier; "
            'name the component the drill is about instead, e.g. component="cache"'
        )
    component = marker.get("component")
    if not isinstance(component, str) or not component:
        raise InvalidDrill(
            f"{nodeid}: the `drill` marker needs component=... naming the component (by role "
            'or name) whose tier the drill is judged by, e.g. component="app"'
        )
    try:
        return config.tier_of(component)
    except ConfigError as exc:
        raise InvalidDrill(f"{nodeid}: drill marker component={component!r}: {exc}") from None


def build_drill(target: Target, item: pytest.Item, marker: Mapping[str, Any]) -> Drill:
    tier_value = validate_marker(item.nodeid, marker, target.config)
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
    identity = DrillIdentity(
        scenario=str(marker["scenario"]),
        tier=tier_value,
        option=str(marker.get("option", "")),
        cadence=_cadence(item, marker.get("cadence")),
        title=doc[0] if doc else item.name,
        component=str(marker["component"]),
    )
    return assemble_drill(target, identity)


def assemble_drill(
    target: Target, identity: DrillIdentity, *, report_to_allure: bool = True
) -> Drill:
    """The Drill of `identity` on `target`: probes, prober, observers, companions and stop
    checks, for any runner (pytest's `drill` fixture, the Chaos Toolkit control)."""
    config = target.config
    assert config.target.base_url is not None
    probing = config.probing
    clock = SystemClock()
    base_url = config.target.base_url

    def prober_for(probe: HttpProbe, *, health_probe: bool) -> HttpProber:
        return HttpProber(
            base_url,
            probe,
            timeout_seconds=probing.timeout_seconds,
            headers=probing.headers,
            tokens=target.tokens,
            keep_fields=health_probe,
        )

    health = [prober_for(probe, health_probe=True) for probe in config.target.probes]
    critical = [prober_for(probe, health_probe=False) for probe in config.target.critical_endpoints]
    timeline = Timeline()
    # The background prober gets its own probers: httpx clients are not shared across threads.
    # The critical endpoints are sampled too, whether or not they count in the RTO: findings
    # compare what users saw with what the health probes said at the same moment.
    background = [prober_for(probe, health_probe=True).sample for probe in config.target.probes]
    background += [
        prober_for(probe, health_probe=False).sample for probe in config.target.critical_endpoints
    ]
    prober = BackgroundProber(
        background, timeline, clock, interval_seconds=probing.interval_seconds
    )
    measured = list(config.target.probes)
    if probing.measure_critical_endpoints:
        measured += config.target.critical_endpoints
    observers: list[DrillObserver[Drill]] = []
    try:
        if report_to_allure:
            from drillbook.reporting.allure_observer import AllureObserver

            observers.append(AllureObserver(target))
    except ImportError:  # allure-pytest not installed: the drill still runs, unreported
        pass
    companions = [
        companion
        for factory in companion_factories()
        if (companion := factory(target, identity)) is not None
    ]
    stop_checks = [halt_check(halt_request_path(target.journal.path))]
    stop_checks += [
        alarm_check(alarm, timeout_seconds=probing.timeout_seconds) for alarm in config.stop.alarms
    ]
    return Drill(
        identity,
        config=config,
        platform=target.platform,
        prober=prober,
        probe_names=[p.name for p in measured],
        critical_names=[p.name for p in config.target.critical_endpoints],
        undo=UndoStack(target.journal, target.apply_undo),
        timeline=timeline,
        clock=clock,
        observers=observers,
        endpoints=ProbeSet(health=health, critical=critical),
        companions=companions,
        stop_checks=stop_checks,
    )
