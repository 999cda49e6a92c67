"""The local platform's rolling restart, on a scripted supervisord and a lagging proxy.

The scripted supervisord stands in for the real one only here (the secrets drills roll the
embedded stack's replicas for real). A replica becomes ready a few polls after it starts, and
the proxy routes to it a few polls later still, as HAProxy's own check (every 250 ms) does:
what a rollout must wait for before it takes the next replica down.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import pytest

from drillbook.errors import RecoveryTimeout
from drillbook.platforms import local
from drillbook.platforms.local import LocalComponent, LocalPlatform

READY_AFTER_POLLS = 2
ROUTED_AFTER_POLLS = 3


@dataclass
class ScriptedSupervisor:
    """supervisord's XML-RPC as LocalPlatform uses it; records what happened, in order."""

    running: dict[str, bool]
    never_ready: set[str] = field(default_factory=set)
    polls_since_start: dict[str, int] = field(default_factory=dict)
    log: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    def processes(self) -> list[dict[str, Any]]:
        return [self._info(name) for name in self.running]

    def process(self, full_name: str) -> dict[str, Any]:
        name = full_name.split(":", 1)[1]
        if self.running[name]:
            self.polls_since_start[name] += 1
        return self._info(name)

    def start(self, full_name: str, wait: bool = True) -> None:
        name = full_name.split(":", 1)[1]
        assert not self.running[name], f"{name} started twice"
        self.running[name] = True
        self.polls_since_start[name] = 0
        self.log.append(("start", name, self.routed()))

    def stop(self, full_name: str, wait: bool = True) -> None:
        name = full_name.split(":", 1)[1]
        assert self.running[name], f"{name} is not running"
        self.log.append(("stop", name, self.routed() - {name}))
        self.running[name] = False

    def ready(self, name: str) -> bool:
        if name in self.never_ready or not self.running[name]:
            return False
        return self.polls_since_start.get(name, READY_AFTER_POLLS) >= READY_AFTER_POLLS

    def is_routed(self, name: str) -> bool:
        return self.ready(name) and (
            self.polls_since_start.get(name, ROUTED_AFTER_POLLS) >= ROUTED_AFTER_POLLS
        )

    def routed(self) -> frozenset[str]:
        return frozenset(name for name in self.running if self.is_routed(name))

    def _info(self, name: str) -> dict[str, Any]:
        up = self.running[name]
        return {
            "group": "app",
            "name": name,
            "statename": "RUNNING" if up else "STOPPED",
            "pid": 100 + int(name.rsplit("-", 1)[1]) if up else 0,
            "start": 1.0 if up else 0,
        }


def _platform(supervisor: ScriptedSupervisor, *, desired: int, max_surge: int) -> LocalPlatform:
    names = list(supervisor.running)
    component = LocalComponent(
        name="app",
        group="app",
        processes=names,
        desired=desired,
        readiness={n: functools.partial(supervisor.ready, n) for n in names},
        in_rotation={n: functools.partial(supervisor.is_routed, n) for n in names},
        max_surge=max_surge,
    )
    return LocalPlatform(supervisor, {"app": component})  # type: ignore[arg-type]


def _replicas(running: int, slots: int) -> ScriptedSupervisor:
    return ScriptedSupervisor({f"app-{i}": i < running for i in range(slots)})


def test_surge_keeps_every_desired_replica_in_rotation_throughout() -> None:
    supervisor = _replicas(running=2, slots=5)

    platform = _platform(supervisor, desired=2, max_surge=1)
    platform.restart("app")

    # As a Deployment rolls (maxSurge 1, maxUnavailable 0): a new replica in a spare slot,
    # then the old one it replaces; the new one keeps its slot. Two replicas, two waits.
    assert [(verb, name) for verb, name, _ in supervisor.log] == [
        ("start", "app-2"),
        ("stop", "app-0"),
        ("start", "app-0"),
        ("stop", "app-1"),
    ]
    # Whenever a replica goes down, `desired` others are in the proxy's rotation.
    for verb, name, routed in supervisor.log:
        if verb == "stop":
            assert len(routed) >= 2, (name, sorted(routed))
    assert supervisor.running == {
        "app-0": True, "app-1": False, "app-2": True, "app-3": False, "app-4": False
    }  # fmt: skip
    # The platform knows its replicas moved: ready, and a second roll starts from them.
    assert platform.status("app").ready == 2
    assert platform.wait_until_ready("app", timeout=1.0) >= 0
    supervisor.log.clear()
    platform.restart("app")
    assert [(verb, name) for verb, name, _ in supervisor.log] == [
        ("start", "app-1"),
        ("stop", "app-2"),
        ("start", "app-2"),
        ("stop", "app-0"),
    ]


def test_scale_keeps_the_replicas_a_roll_moved_and_adds_spare_slots() -> None:
    supervisor = _replicas(running=2, slots=5)
    platform = _platform(supervisor, desired=2, max_surge=1)
    platform.restart("app")  # now app-2 and app-0
    platform.scale("app", 3)
    assert {n for n, up in supervisor.running.items() if up} == {"app-0", "app-1", "app-2"}
    platform.scale("app", 1)
    assert {n for n, up in supervisor.running.items() if up} == {"app-2"}
    platform.reconcile("app")
    assert {n for n, up in supervisor.running.items() if up} == {"app-2"}


def test_without_a_spare_slot_each_replica_is_back_in_rotation_before_the_next_goes() -> None:
    supervisor = _replicas(running=2, slots=2)
    _platform(supervisor, desired=2, max_surge=1).restart("app")

    stops = [(name, routed) for verb, name, routed in supervisor.log if verb == "stop"]
    assert [name for name, _ in stops] == ["app-0", "app-1"]
    # The second replica goes only once the first is routed to again: never zero in rotation.
    assert stops[1][1] == frozenset({"app-0"})
    assert all(routed for _, routed in stops)


def test_a_surge_that_never_gets_ready_stops_the_roll_before_any_replica_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local, "_ROLL_TIMEOUT_SECONDS", 0.3)
    supervisor = _replicas(running=2, slots=3)
    supervisor.never_ready.add("app-2")

    with pytest.raises(RecoveryTimeout, match="app-2 not ready"):
        _platform(supervisor, desired=2, max_surge=1).restart("app")

    assert [(verb, name) for verb, name, _ in supervisor.log] == [
        ("start", "app-2"),
        ("stop", "app-2"),
    ]
    assert supervisor.running == {"app-0": True, "app-1": True, "app-2": False}


def test_ready_but_never_routed_names_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_ROLL_TIMEOUT_SECONDS", 0.3)
    supervisor = _replicas(running=1, slots=1)
    platform = _platform(supervisor, desired=1, max_surge=0)
    platform.component("app").in_rotation = {"app-0": lambda: False}

    with pytest.raises(RecoveryTimeout, match="app-0 not routed to by the proxy"):
        platform.restart("app")


def test_reconcile_stops_a_surge_replica_left_by_a_killed_run_and_restarts_the_dead() -> None:
    # app-0 was killed by a fault; app-2 is the surge of a roll whose test process died.
    supervisor = ScriptedSupervisor({"app-0": False, "app-1": True, "app-2": True})
    _platform(supervisor, desired=2, max_surge=1).reconcile("app")

    assert supervisor.running == {"app-0": True, "app-1": True, "app-2": False}
