"""The cache watch's arithmetic (hit rates, failover time, split brain) and the Sentinel
settings of the reference service, on invented snapshots."""

from __future__ import annotations

import pytest

from drillbook.companions.cache_watch import failover_seconds, hit_rates, split_brains
from drillbook.core.phases import PhaseBounds
from drillbook.probes.redis import CacheSnapshot, NodeState
from eleanor_reference.cache_client import CacheSettingsError, parse_sentinels
from eleanor_reference.settings import Settings, SettingsError

A, B = "127.0.0.1:7000", "127.0.0.1:7001"
SENTINELS = ("127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381")


def snap(
    at: float,
    *,
    sentinel: str | None,
    roles: tuple[str | None, str | None] = ("master", "slave"),
    hits: tuple[int | None, int | None] = (0, 0),
    misses: tuple[int | None, int | None] = (0, 0),
    disagree: bool = False,
) -> CacheSnapshot:
    answers = {s: sentinel for s in SENTINELS}
    if disagree:
        answers[SENTINELS[0]] = A if sentinel != A else B
    nodes = {
        name: NodeState(
            name=name,
            address=address,
            role=roles[i],
            keyspace_hits=hits[i],
            keyspace_misses=misses[i],
            error=None if roles[i] else "ConnectionError",
        )
        for i, (name, address) in enumerate((("redis-0", A), ("redis-1", B)))
    }
    return CacheSnapshot(at=at, sentinel_masters=answers, nodes=nodes)


def test_agreed_master_needs_every_sentinel() -> None:
    assert snap(0, sentinel=A).agreed_master == A
    assert snap(0, sentinel=A, disagree=True).agreed_master is None
    assert snap(0, sentinel=None).agreed_master is None


def test_hit_rates_per_phase_survive_a_restarted_node() -> None:
    bounds = PhaseBounds(fault_at=10.0, recovered_at=20.0)
    snapshots = [
        snap(0, sentinel=A, hits=(100, 0), misses=(10, 0)),
        snap(5, sentinel=A, hits=(190, 0), misses=(20, 0)),  # baseline: 90 hits, 10 misses
        snap(12, sentinel=A, roles=(None, "slave"), hits=(None, 0), misses=(None, 0)),
        snap(21, sentinel=A, hits=(3, 0), misses=(7, 0)),  # restarted: counted from zero
        snap(25, sentinel=A, hits=(13, 0), misses=(7, 0)),
    ]
    rates = hit_rates(snapshots, bounds)
    assert (rates["baseline"].hits, rates["baseline"].misses) == (90, 10)
    assert rates["baseline"].rate == pytest.approx(0.9)
    assert rates["fault"].rate is None  # the cache was down: no reads at all
    assert (rates["recovered"].hits, rates["recovered"].misses) == (13, 7)


def test_failover_time_is_the_first_agreement_on_a_new_master() -> None:
    snapshots = [
        snap(9.9, sentinel=A),
        snap(10.5, sentinel=A, roles=(None, "slave")),
        snap(11.5, sentinel=B, roles=(None, "master"), disagree=True),
        snap(12.1, sentinel=B, roles=(None, "master")),
    ]
    assert failover_seconds(snapshots, 10.0) == pytest.approx(2.1)
    assert failover_seconds(snapshots[:3], 10.0) is None  # never agreed
    assert failover_seconds(snapshots, None) is None


def test_split_brain_is_every_stretch_with_two_masters() -> None:
    snapshots = [
        snap(12, sentinel=B, roles=(None, "master")),
        snap(13, sentinel=B, roles=("master", "master")),
        snap(18, sentinel=B, roles=("master", "master")),
        snap(23.5, sentinel=B, roles=("slave", "master")),
        snap(30, sentinel=B, roles=("master", "master")),
    ]
    found = split_brains(snapshots)
    assert [(b.started_at, b.ended_at) for b in found] == [(13, 23.5), (30, None)]
    assert found[0].seconds(now=40) == pytest.approx(10.5)
    assert found[1].seconds(now=40) == pytest.approx(10.0)  # still going at the last snapshot
    assert found[0].masters == ("redis-0", "redis-1")


def test_sentinel_settings_of_the_reference_service() -> None:
    assert parse_sentinels("127.0.0.1:1, localhost:26380") == (
        ("127.0.0.1", 1),
        ("localhost", 26380),
    )
    assert parse_sentinels("") == ()
    settings = Settings.from_env(
        {"ELEANOR_CACHE__SENTINELS": "127.0.0.1:5", "ELEANOR_CACHE__SENTINEL_MASTER": "m"}
    )
    assert settings.cache_sentinels == (("127.0.0.1", 5),)
    assert settings.cache_sentinel_master == "m"
    assert Settings.from_env({}).cache_sentinels == ()


@pytest.mark.parametrize("raw", ["127.0.0.1", ":5", "h:0", "h:port", "h:1,"])
def test_bad_sentinel_lists_name_the_variable(raw: str) -> None:
    with pytest.raises(CacheSettingsError, match="ELEANOR_CACHE__SENTINELS"):
        parse_sentinels(raw)
    with pytest.raises(SettingsError, match="is not host:port"):
        Settings.from_env({"ELEANOR_CACHE__SENTINELS": raw})
