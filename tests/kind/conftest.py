"""The kind tests: the cluster `drillbook-kind` with the reference stack, once per session.

They run only when asked (DRILLBOOK_KIND=1: the cluster takes a node container and about 3 GB
of images) and a Docker engine answers; otherwise every test here is skipped with that exact
reason. The cluster is left up afterwards (scripts/kind-down.sh deletes it): the next session
reuses it in seconds.
"""

from __future__ import annotations

import os

import pytest

from tests.kind.cluster import KindCluster, KindUnavailable, docker_answers, kind_up


@pytest.fixture(scope="session")
def kind_cluster() -> KindCluster:
    if os.environ.get("DRILLBOOK_KIND") != "1":
        pytest.skip("DRILLBOOK_KIND=1 is not set: the kind tests create a kind cluster")
    why_not = docker_answers()
    if why_not is not None:
        pytest.skip(f"the kind tests need Docker: {why_not}")
    try:
        return kind_up()
    except KindUnavailable as exc:
        # Docker answers and kind was asked for: a cluster that does not come up is a failure.
        pytest.fail(str(exc), pytrace=False)
