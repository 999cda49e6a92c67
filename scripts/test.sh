#!/usr/bin/env bash
# The tests: set up (with the Kubernetes control plane the Kubernetes tests need), lint,
# type-check, check the layers (lint-imports: pyproject.toml's [tool.importlinter]), then
# drillbook's own test suite (unit + integration on the embedded stack, including the monthly
# drills and their rendered report), then, when a Docker engine answers, the kind tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --with-kubernetes
export PATH="$PATH:/usr/sbin"
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-logo
# The Docker tests (tests/docker): an engine, started here when none answers (docker.io
# installed when missing; about a minute cold, seconds warm) and stopped at exit if this script
# started it (docker-down.sh stops only that daemon), and the reference Compose project's images,
# cached by content (a few minutes cold, seconds warm). Without an engine the Docker tests say
# why: skipped on a developer's machine, failed in CI.
docker_ready=0
if up="$(bash scripts/docker-up.sh)"; then
    docker_ready=1
    # docker-up.sh prints "started" when it started the daemon (not when one answered already).
    [[ "$up" == *started* ]] && trap 'bash scripts/docker-down.sh' EXIT
    bash scripts/build-images.sh
else
    echo "test: no Docker engine could be started; tests/docker will report why" >&2
fi
# Not exec: the EXIT trap above must run after pytest.
status=0
.venv/bin/pytest tests --ignore=tests/kind "$@" || status=$?
# The kind tests (tests/kind), last: scripts/kind-up.sh (the users' workflow's script) builds
# what a kind cluster needs (content-hashed images in the engine: about 1 min with an empty
# drillbook cache, Go's caches warm), creates the cluster and deploys the reference stack; the
# drills then run on real pods. A cluster that was there before is used and left as it was;
# one created here is deleted at the end. The whole lane holds the lock the sessions sharing
# this machine's engine take before changing a cluster (tests/kind's own lock around
# kind-up.sh is pointed at a file of its own, else it would wait for this one).
# Arguments that name tests (`bash scripts/test.sh tests/unit -x`) pick those only: no kind lane.
picked=""
for arg in "$@"; do [[ -e "$arg" ]] && picked="$arg"; done
if [[ -n "$picked" ]]; then
    echo "test: tests picked by path ($picked): the kind tests (tests/kind) are left out" >&2
elif [[ "$docker_ready" == 1 ]]; then
    kind_cluster="${DRILLBOOK_KIND_CLUSTER:-drillbook-kind}"
    kind_lock="${DRILLBOOK_DOCKER_LOCK:-/tmp/drillbook-docker.lock}"
    kind_existed="$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$kind_cluster")"
    flock "$kind_lock" env DRILLBOOK_KIND=1 DRILLBOOK_DOCKER_LOCK="$kind_lock.lane" \
        .venv/bin/pytest tests/kind "$@" || status=$?
    if [[ -z "$kind_existed" ]]; then
        flock "$kind_lock" bash scripts/kind-down.sh || status=$?
    fi
else
    # As for tests/docker: said on a developer's machine, a failure in CI (env CI set).
    echo "test: no Docker engine: the kind tests (tests/kind) did not run" >&2
    [[ -n "${CI:-}" ]] && status=1
fi
exit "$status"
