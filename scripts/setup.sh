#!/usr/bin/env bash
# Set up everything drillbook needs on a fresh Debian/Ubuntu machine; fast when already done.
#
#   system packages: PostgreSQL, Redis (+ Sentinel), HAProxy, Chromium (report screenshots)
#   Python:          a virtualenv in .venv with drillbook and its dev tools
#   Node:            the pinned Allure Report 3 CLI in drillbook's cache (scripts/install-allure.sh)
#   Go:              the local Kubernetes control plane in drillbook's cache (scripts/build-k8s.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel)
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need_apt+=(haproxy)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
        echo "setup: missing system packages: ${need_apt[*]}; install them as root (apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    echo "setup: installing ${need_apt[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
    # The Debian packages start their own servers; drillbook runs private ones on other ports.
    for service in redis-server redis-sentinel haproxy postgresql; do
        "${sudo_cmd[@]}" service "$service" stop >/dev/null 2>&1 || true
    done
fi
# haproxy lives in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin"

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
stamp=".venv/.drillbook-installed"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "setup: installing drillbook into .venv" >&2
    .venv/bin/pip install -q --upgrade pip >/dev/null
    # python-dateutil<3 spares pip minutes of backtracking between kubernetes and botocore.
    .venv/bin/pip install -q -e ".[dev]" "python-dateutil<3"
    touch "$stamp"
fi

bash scripts/install-allure.sh >/dev/null
# The local Kubernetes control plane (kube-apiserver, controller-manager, scheduler, etcd, KWOK)
# for the Kubernetes tests: built from Go modules into ~/.cache/drillbook/k8s-<version>, keyed by
# version. About a second when built; a cold build takes tens of minutes on 2 cores.
bash scripts/build-k8s.sh
# Weaviate (the vector-store drills): built from the Go module proxy into
# ~/.cache/drillbook/weaviate-<version>, keyed by version; instant when built, 5-8 minutes cold.
bash scripts/build-weaviate.sh
echo "setup: ready" >&2
