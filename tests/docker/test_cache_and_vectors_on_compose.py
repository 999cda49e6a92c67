"""The cache and vector-store drills, unchanged, on the reference Compose project
(configs/compose.toml), in one pytest run as a user runs them.

Cache: Redis with a replica and three Sentinels in containers. Every Redis node killed (Option
A) and the master killed so that Sentinel fails over (Option B) both pass with a measured RTO,
and the failover promotes the other node. Vector store: Weaviate killed (Option A) and its
volumes lost, restored from the latest backup through Weaviate's API from the project's S3
(Option B) both pass, the precedent ledger reading Weaviate at its published port. Every fault
is undone: the same containers running, the Sentinels agreeing on one master with the other node
its linked replica, Weaviate's volumes holding their own data and nothing beside it. Beside them,
fast checks (no engine) of what these drills rely on: a service labelled part of another belongs
to its component, and the ledger finds Weaviate from its container."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drillbook.config.loader import load_config
from drillbook.config.sections.allow import AllowSettings
from drillbook.errors import InvalidDrill, NotAllowed
from drillbook.platforms.docker import (
    PART_OF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    DockerComponent,
    DockerPlatform,
)
from drillbook.platforms.docker_compose import ComposeProject
from drillbook.probes.redis import CacheSnapshot, snapshot
from drillbook.scenarios.vector_store.on_docker import docker_weaviate_endpoint
from tests.docker.drill_runs import run_compose_drills
from tests.docker.engine import CONFIG, docker, project_containers, wait_for

CACHE = "cache-failure"
VECTORS = "vector-database-failure"
EXPECTED = {
    (CACHE, "Option A: pod restart"),
    (CACHE, "Option B: Sentinel failover to the standby"),
    (VECTORS, "A: Weaviate killed, pod restart"),
    (VECTORS, "B: data lost, restore from the latest backup"),
}
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
"""Unset for the drills: configs/compose.toml alone finds the S3 Weaviate's backups go to
(the project's moto service, by its published port)."""
WEAVIATE_VOLUMES = ("eleanor_weaviate-data", "eleanor_weaviate-backups")
SETTLE_SECONDS = 60.0
"""How long the cache may take to settle after the drills (a returning node resyncing)."""


@pytest.fixture(scope="module")
def compose_run(compose_project: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    before = project_containers()
    with pytest.MonkeyPatch.context() as env:
        for name in AWS_VARIABLES:
            env.delenv(name, raising=False)
        run = run_compose_drills(
            tmp_path_factory.mktemp("compose-cache-vector-runs"),
            ["drills/monthly/test_cache_failure.py", "drills/monthly/test_vector_db_failure.py"],
        )
    return run, before, project_containers()


def _drills(run: dict[str, Any], scenario: str) -> dict[str, dict[str, Any]]:
    return {d["option"]: d for d in run["drills"] if d["scenario"] == scenario}


def test_every_drill_ran_and_passed(compose_run: Any) -> None:
    run, _, _ = compose_run
    assert {(d["scenario"], d["option"]) for d in run["drills"]} == EXPECTED, run["output"]
    assert run["returncode"] == 0, run["output"]
    assert run["platform"] == "docker", run["platform"]


@pytest.mark.parametrize("scenario", [CACHE, VECTORS])
def test_drills_measure_an_rto_within_the_objective(compose_run: Any, scenario: str) -> None:
    run, _, _ = compose_run
    drills = _drills(run, scenario)
    assert drills, run["output"]
    for option, drill in sorted(drills.items()):
        assert drill["outcome"] == "passed", f"{option}: {drill['failure']}"
        rto = drill["rto"]
        bar = rto["error_bar_seconds"]
        print(f"compose: {option}: RTO {rto['seconds']:.2f} s (error bar {bar:.2f} s)")
        # Users lost the component's function (its field in /health) and got it back in time.
        assert rto["outage_observed"] and rto["seconds"] > 0 and rto["within_objective"], rto
        assert [c["name"] for c in drill["checks"] if not c["passed"]] == [], drill["checks"]


def test_sentinel_failover_promotes_the_other_node(compose_run: Any) -> None:
    run, _, _ = compose_run
    drill = _drills(run, CACHE)["Option B: Sentinel failover to the standby"]
    watched = drill["companions"]["cache"]
    killed, promoted = watched["master_before"], watched["master_after"]
    print(f"compose: Sentinel failover {killed} -> {promoted} in {watched['failover_seconds']} s")
    config = load_config(CONFIG)
    nodes = set(config.cache.nodes.values())
    assert killed in nodes and promoted in nodes, watched
    assert promoted != killed, watched
    assert watched["failover_seconds"] is not None and watched["failover_seconds"] > 0, watched
    # The fault named the container of the master the Sentinels agreed on before it.
    killed_node = next(name for name, addr in config.cache.nodes.items() if addr == killed)
    assert killed_node in drill["fault"], drill["fault"]


def test_precedents_survive_or_are_restored_from_the_backup(compose_run: Any) -> None:
    run, _, _ = compose_run
    drills = _drills(run, VECTORS)
    killed = drills["A: Weaviate killed, pod restart"]["companions"]["precedents"]
    assert killed["precedents_acked_before_fault"] > 0, killed
    assert killed["precedents_lost"] == 0, killed
    lost = drills["B: data lost, restore from the latest backup"]["companions"]["precedents"]
    print(
        f"compose: volume lost: {lost['precedents_lost']} of "
        f"{lost['precedents_acked_before_fault']} precedents lost (written after the backup), "
        f"RPO {lost['precedent_rpo_seconds']} s; backup {lost['backup_used']}"
    )
    # What a restore must lose: the precedents acknowledged after the backup, nothing older.
    assert lost["backup_used"]["id"] == lost["backup_created"]["id"], lost
    assert 0 < lost["precedents_lost"] < lost["precedents_acked_before_fault"], lost
    assert not [p for p in lost["retrieval"] if not p["passed"]], lost["retrieval"]


def test_every_fault_is_undone(compose_run: Any) -> None:
    _, before, after = compose_run
    assert after == before, f"container states before {before}, after {after}"
    for volume in WEAVIATE_VOLUMES:
        # Nothing left beside the volume's data: the lost data's quarantine was put back.
        mountpoint = Path(docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume).strip())
        assert sorted(p.name for p in mountpoint.parent.iterdir()) == ["_data"], volume
    settings = load_config(CONFIG).cache
    last: list[CacheSnapshot] = []

    def settled() -> bool:
        seen = snapshot(settings)
        last[:] = [seen]
        master = seen.node_at(seen.agreed_master or "")
        replicas = [n for n in seen.nodes.values() if master is None or n.name != master.name]
        return (
            master is not None
            and seen.masters == [master.name]
            and all(
                n.role == "slave" and n.link_up and n.master_address == master.address
                for n in replicas
            )
        )

    try:
        waited = wait_for(settled, timeout=SETTLE_SECONDS, what="the cache settling")
    except AssertionError as exc:
        seen = last[0] if last else None
        raise AssertionError(
            f"{exc}: Sentinels say {seen and dict(seen.sentinel_masters)}, "
            f"nodes say {seen and seen.roles}"
        ) from None
    print(f"compose: cache settled {waited:.2f} s after the drills")


# --- fast checks of the parts these drills rely on (no engine; the fakes answer as it does) ---


class _Container:
    def __init__(
        self, service: str, attrs: dict[str, Any] | None = None, part_of: str | None = None
    ) -> None:
        self.name = f"eleanor-{service}-1"
        self.labels = {PROJECT_LABEL: "eleanor", SERVICE_LABEL: service}
        if part_of is not None:
            self.labels[PART_OF_LABEL] = part_of
        self.attrs = attrs or {"State": {"Running": True, "Pid": 0}}

    def reload(self) -> None:
        """The engine's fresh view: these fakes do not change."""


class _Engine:
    def __init__(self, containers: list[_Container]) -> None:
        self.containers = self
        self._found = containers

    def list(self, all: bool, filters: dict[str, Any]) -> list[_Container]:  # noqa: A002
        assert all and filters == {"label": f"{PROJECT_LABEL}=eleanor"}, filters
        return self._found


def _platform(containers: list[_Container], *allowed: str) -> DockerPlatform:
    components = {
        name: DockerComponent(name=name, project="eleanor", service=service, desired=1)
        for name, service in (("cache", "redis"), ("vector_store", "weaviate"))
    }
    platform = DockerPlatform(_Engine(containers), components, ComposeProject("eleanor", ()))
    platform.allow = AllowSettings(compose_services=allowed)
    return platform


CACHE_CONTAINERS = [
    _Container("sentinel-0"),
    _Container("redis-replica", part_of="redis"),
    _Container("redis"),
]


def test_a_service_labelled_part_of_another_is_that_component() -> None:
    platform = _platform(CACHE_CONTAINERS, "eleanor/redis", "eleanor/redis-replica")
    assert [c.name for c in platform.containers("cache")] == [
        "eleanor-redis-1",
        "eleanor-redis-replica-1",
    ]
    with pytest.raises(InvalidDrill, match="several Compose services"):
        platform.scale("cache", 3)


def test_every_service_of_a_component_must_be_allowed() -> None:
    platform = _platform(CACHE_CONTAINERS, "eleanor/redis")
    with pytest.raises(NotAllowed, match="eleanor/redis-replica"):
        platform.stop("cache")


def test_the_ledger_finds_weaviate_at_its_published_port_and_volumes() -> None:
    weaviate = _Container(
        "weaviate",
        {
            "Config": {"Env": ["PERSISTENCE_DATA_PATH=/var/lib/weaviate"]},
            "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": "17081"}]}},
            "Mounts": [
                {"Destination": "/var/lib/weaviate", "Source": "/v/data/_data"},
                {"Destination": "/var/lib/weaviate-backups", "Source": "/v/backups/_data"},
            ],
        },
    )
    target = SimpleNamespace(platform=_platform([weaviate]), config=load_config(CONFIG))
    endpoint = docker_weaviate_endpoint(target)  # type: ignore[arg-type]
    assert endpoint is not None
    assert endpoint.url == "http://127.0.0.1:17081"
    assert endpoint.data_path == Path("/v/data/_data")
    assert endpoint.backup_path == Path("/v/backups/_data")
    weaviate.attrs["HostConfig"]["PortBindings"] = {}
    with pytest.raises(InvalidDrill, match="not published"):
        docker_weaviate_endpoint(target)  # type: ignore[arg-type]
