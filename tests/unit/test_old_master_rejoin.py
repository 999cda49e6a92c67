"""The cache drill's rejoin step on scripted Sentinel/node snapshots.

Scripted here so each outcome is certain; the real path runs in drills/monthly/test_cache_failure.py
against three real Sentinels. What is pinned: the old master rejoining as a replica passes with
the split brain measured, and a SECOND failover back to the old master is named as such (seen
once in a loaded clean-clone run), not reported as "did not rejoin".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from drillbook.config.model import CacheSettings, Component
from drillbook.errors import VerificationFailed
from drillbook.probes.redis import CacheNode, CacheSnapshot, NodeState
from drillbook.scenarios.cache import runbook as cache_runbook

OLD, NEW = "127.0.0.1:24296", "127.0.0.1:29242"
SENTINELS = ("127.0.0.1:21000", "127.0.0.1:21001", "127.0.0.1:21002")


class StartOnly:
    """The platform as the rejoin step uses it: `start` brings the old master's pod back."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, component: str) -> None:
        self.started.append(component)


def _snap(at: float, sentinels_say: str, redis0: NodeState, redis1: NodeState) -> CacheSnapshot:
    return CacheSnapshot(
        at=at,
        sentinel_masters=dict.fromkeys(SENTINELS, sentinels_say),
        nodes={"redis-0": redis0, "redis-1": redis1},
    )


def _master(name: str, address: str) -> NodeState:
    return NodeState(name=name, address=address, role="master")


def _replica(name: str, address: str, of: str) -> NodeState:
    return NodeState(name=name, address=address, role="slave", master_address=of, link_up=True)


def _run(monkeypatch: pytest.MonkeyPatch, snapshots: list[CacheSnapshot]) -> Mapping[str, object]:
    script: Iterator[CacheSnapshot] = iter(snapshots)
    monkeypatch.setattr(cache_runbook, "snapshot", lambda settings: next(script))
    monkeypatch.setattr(cache_runbook, "_POLL_SECONDS", 0.0)
    settings = CacheSettings(sentinels=SENTINELS, rejoin_timeout_seconds=5.0)
    platform = StartOnly()
    step = cache_runbook.restart_old_master(
        platform,  # type: ignore[arg-type]
        Component(name="cache", role="cache", tier="non_critical"),
        settings,
        old_master=CacheNode(name="redis-0", address=OLD),
    )
    result = step.run()
    assert result is not None
    assert platform.started == ["cache"]
    return result


def test_old_master_rejoining_as_replica_passes_with_the_split_brain_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _run(
        monkeypatch,
        [
            _snap(0.0, NEW, _master("redis-0", OLD), _master("redis-1", NEW)),
            _snap(10.0, NEW, _master("redis-0", OLD), _master("redis-1", NEW)),
            _snap(10.5, NEW, _replica("redis-0", OLD, NEW), _master("redis-1", NEW)),
        ],
    )
    assert result["master"] == NEW
    assert result["split_brain_seconds"] == pytest.approx(10.5)


def test_a_second_failover_back_to_the_old_master_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(VerificationFailed, match="Sentinel failed over a second time") as err:
        _run(
            monkeypatch,
            [
                _snap(0.0, NEW, _master("redis-0", OLD), _master("redis-1", NEW)),
                _snap(2.0, OLD, _master("redis-0", OLD), _master("redis-1", NEW)),
            ],
        )
    assert f"from {NEW} back to the old master redis-0 ({OLD})" in str(err.value)
