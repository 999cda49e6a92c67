"""Fast checks, beside tests/docker/test_volumes_and_networks.py which drives a real engine:
the undos of a lost volume and of a partition survive the journal as another process reads
them (JSON on disk, read back by a new UndoJournal) and still fit the platform verbs that replay
them, and the faults refuse a platform that is not Docker."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from drillbook.core.undo import UndoAction
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.docker import DockerPlatform
from drillbook.platforms.docker_faults import (
    lose_volume,
    partition_network,
    reconnect_undo,
    restore_volume_undo,
)
from drillbook.platforms.local import LocalPlatform

VOLUME_UNDO = restore_volume_undo(
    "database",
    volume="eleanor_pgdata",
    described={
        "driver": "local",
        "driver_opts": {},
        "labels": {"com.docker.compose.project": "eleanor", "com.docker.compose.volume": "pgdata"},
    },
    snapshot="/cache/undo/docker/snapshots/eleanor_pgdata-20261206T140000Z.tar",
    image="drillbook/postgres:local",
    mounted_at="/var/lib/postgresql/data",
    replicas=1,
)
NETWORK_UNDO = reconnect_undo(
    "app",
    network="eleanor_default",
    aliases={"eleanor-app-1": ["app", "eleanor-app-1"], "eleanor-app-2": ["app"]},
)


@pytest.mark.parametrize("action", [VOLUME_UNDO, NETWORK_UNDO], ids=["volume", "network"])
def test_the_undo_reads_back_as_written_and_fits_its_verb(
    action: UndoAction, tmp_path: Path
) -> None:
    path = tmp_path / "eleanor.jsonl"
    UndoJournal(path).push(action)
    # Another process (the next run, `drillbook undo`) reads the file afresh.
    pending = UndoJournal(path).pending()
    assert [a for _, a in pending] == [action]
    assert action.verb in DockerPlatform.UNDO_VERBS
    verb = getattr(DockerPlatform, action.verb)
    inspect.signature(verb).bind(object(), **pending[0][1].args)  # every argument, none extra


def test_a_verb_that_is_not_an_undo_is_refused() -> None:
    platform = DockerPlatform.__new__(DockerPlatform)
    action = UndoAction("remove it", "docker", "remove_volume", {"component": "database"})
    with pytest.raises(InvalidDrill, match="cannot execute undo 'remove_volume'"):
        platform.apply_undo(action)


def test_the_faults_need_the_docker_platform() -> None:
    local = LocalPlatform.__new__(LocalPlatform)
    with pytest.raises(InvalidDrill, match="lose_volume needs platform 'docker'"):
        lose_volume(local, "database", "pgdata")
    with pytest.raises(InvalidDrill, match="partition_network needs platform 'docker'"):
        partition_network(local, "app")


class _Attached:
    """A container as the engine describes its networks (the fields the partition reads)."""

    def __init__(self, name: str, endpoint: dict[str, object]) -> None:
        self.name, self.id = name, "0123456789abcdef"
        self.attrs = {"NetworkSettings": {"Networks": {"eleanor_default": endpoint}}}

    def reload(self) -> None:
        pass


def test_a_partition_knows_which_containers_have_a_fixed_address() -> None:
    from drillbook.platforms.docker_networks import fixed_addresses

    fixed = _Attached("eleanor-redis-1", {"IPAMConfig": {"IPv4Address": "172.16.238.10"}})
    assigned = _Attached("eleanor-app-1", {"IPAMConfig": None, "IPAddress": "172.16.238.130"})
    assert fixed_addresses([fixed, assigned], "eleanor_default") == {
        "eleanor-redis-1": "172.16.238.10"
    }
    assert fixed_addresses([fixed], "another_network") == {}
