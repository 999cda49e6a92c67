#!/usr/bin/env bash
# Set up what drillbook needs on a fresh Debian/Ubuntu machine; fast when already done.
#
#   bash scripts/setup.sh                    what the monthly drills on the embedded stack need
#   bash scripts/setup.sh --with-kubernetes  that, and the local Kubernetes control plane the
#                                            Kubernetes tests run against (scripts/test.sh)
#
#   system packages: PostgreSQL, Redis (+ Sentinel), HAProxy, Chromium (report screenshots),
#                    Node.js + npm
#   Python:          a virtualenv in .venv with drillbook and its dev tools, at the versions
#                    pinned in requirements/lock.txt (scripts/update-lock.sh renews them)
#   Node:            the pinned Allure Report 3 CLI in drillbook's cache (scripts/install-allure.sh)
#   Go:              Weaviate in drillbook's cache (scripts/build-weaviate.sh); with
#                    --with-kubernetes also the control plane (scripts/build-k8s.sh)
#
# Each step prints one line saying what it does (a long Go build adds one every 30 s).
set -euo pipefail

with_kubernetes=0
for arg in "$@"; do
    case "$arg" in
        --with-kubernetes) with_kubernetes=1 ;;
        -h | --help)
            sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            echo "setup: unknown option '$arg' (known: --with-kubernetes, --help)" >&2
            exit 2
            ;;
    esac
done

# A relative DRILLBOOK_CACHE means the folder it was given from (the steps below run elsewhere).
if [[ -n "${DRILLBOOK_CACHE:-}" && "$DRILLBOOK_CACHE" != /* ]]; then
    export DRILLBOOK_CACHE="$PWD/$DRILLBOOK_CACHE"
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- system packages -----------------------------------------------------------------------
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel)
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need_apt+=(haproxy)
command -v runuser >/dev/null 2>&1 || [[ -x /usr/sbin/runuser || -x /sbin/runuser ]] || need_apt+=(util-linux)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
# The Docker images' Debian base (scripts/build-images.sh); the engine itself, docker.io, is
# installed and started by scripts/docker-up.sh, which also stops only the daemon it started.
command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || need_apt+=(debootstrap)
if ! command -v node >/dev/null 2>&1; then
    need_apt+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    need_apt+=(npm)
fi
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
        echo "setup: missing system packages: ${need_apt[*]}; install them as root (apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    echo "setup: system packages: installing ${need_apt[*]} (apt-get)" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
    # The Debian packages start their own servers; drillbook runs private ones on other ports.
    for service in redis-server redis-sentinel haproxy postgresql; do
        "${sudo_cmd[@]}" service "$service" stop >/dev/null 2>&1 || true
    done
else
    echo "setup: system packages: all present (PostgreSQL, Redis, Sentinel, HAProxy, Chromium, Node.js)" >&2
fi
# haproxy lives in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin"

# --- Python: .venv at the locked versions ----------------------------------------------------
lock="requirements/lock.txt"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: python: creating .venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv .venv
fi
# The install is redone whenever pyproject.toml or the lock changes (their digest is the stamp).
stamp=".venv/.drillbook-installed"
want="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: python: .venv is up to date with pyproject.toml and $lock" >&2
else
    pip_version="$(sed -n 's/^pip==\([^ ;]*\).*$/\1/p' "$lock")"
    if [[ -z "$pip_version" ]]; then
        echo "setup: $lock names no pip version (a line pip==X); renew it with: bash scripts/update-lock.sh" >&2
        exit 1
    fi
    pinned="$(grep -cE '^[A-Za-z0-9]' "$lock")"
    echo "setup: python: installing drillbook[dev] into .venv with the $pinned versions pinned in $lock (pip $pip_version)" >&2
    rm -f "$stamp"
    .venv/bin/python -m pip install -q --disable-pip-version-check "pip==$pip_version"
    .venv/bin/python -m pip install -q --disable-pip-version-check -c "$lock" -e ".[dev]"
    echo "$want" >"$stamp"
fi

# --- Node: the Allure Report 3 CLI -----------------------------------------------------------
bash scripts/install-allure.sh >/dev/null

# --- Go: Weaviate (the vector-store drills) --------------------------------------------------
# Built from the Go module proxy into ${DRILLBOOK_CACHE:-~/.cache/drillbook}/weaviate-<version>,
# keyed by version; instant when built, about 5.5 minutes cold.
bash scripts/build-weaviate.sh

# --- Go: the local Kubernetes control plane (the Kubernetes tests only) -----------------------
# kube-apiserver, controller-manager, scheduler, etcd, KWOK into ~/.cache/drillbook/k8s-<version>,
# keyed by version. About a second when built; about 7 minutes cold on 2 cores.
if ((with_kubernetes)); then
    bash scripts/build-k8s.sh
    echo "setup: ready" >&2
else
    echo "setup: ready (the Kubernetes control plane is not built: 'bash scripts/setup.sh --with-kubernetes' adds it, for the Kubernetes tests)" >&2
fi
