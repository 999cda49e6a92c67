#!/usr/bin/env bash
# The main job: set up, run the monthly drills on the embedded local stack, render the report.
# The set-up builds only what the embedded stack needs (no Kubernetes control plane).
# The HTML report lands in reports/html/index.html; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/sbin"
exec .venv/bin/drillbook run monthly -- "$@"
