#!/usr/bin/env bash
# The tests: set up (with the Kubernetes control plane the Kubernetes tests need), lint,
# type-check, check the layers (lint-imports: pyproject.toml's [tool.importlinter]), then
# drillbook's own test suite (unit + integration on the embedded stack, including the monthly
# drills and their rendered report).
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
if up="$(bash scripts/docker-up.sh)"; then
    # docker-up.sh prints "started" when it started the daemon (not when one answered already).
    [[ "$up" == *started* ]] && trap 'bash scripts/docker-down.sh' EXIT
    bash scripts/build-images.sh
else
    echo "test: no Docker engine could be started; tests/docker will report why" >&2
fi
# Not exec: the EXIT trap above must run after pytest.
status=0
.venv/bin/pytest tests "$@" || status=$?
exit "$status"
