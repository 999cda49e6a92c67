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
exec .venv/bin/pytest tests "$@"
