#!/usr/bin/env bash
# Build everything a kind cluster needs on a machine that reaches no image registry: the kind
# command, the node image and every image the node runs, all from Go modules, Debian packages
# and the Debian base image scripts/build-images.sh makes with debootstrap.
#
#   bash scripts/build-kind.sh          (then scripts/kind-up.sh creates the cluster)
#
#   ${DRILLBOOK_CACHE:-~/.cache/drillbook}/kind-<kind version>-k8s-<version>/
#       bin/          kind, kubelet, kubeadm, kube-proxy, containerd (+ ctr, shim), etcd,
#                     coredns, local-path-provisioner, pause; each stamped with its version
#       node-image    the name of the node image to give `kind create cluster --image`
#       image-repository  the image repository of the cluster's images (drillbook.local), for
#                     scripts/kind-up.sh to give kubeadm as its imageRepository
#   docker images     drillbook-kind/<name>:<content hash>, tagged as well with the name the
#                     cluster asks for under that repository (drillbook.local/kube-apiserver:v1.37.2,
#                     drillbook.local/local-path-provisioner:..., ...), and the node image
#                     drillbook-kind/node:<k8s version>-<content hash>
#
# No image carries a registry's name: the repository is drillbook.local, a name that is not a
# real host, so nothing in the cluster can be pulled from anywhere by accident. kubeadm is told
# so (imageRepository, set by kind-up.sh), and the node image's containerd sandbox image and
# kind's manifests (/kind/manifests) are rewritten to it here, when the node image is built.
#
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl come from
# scripts/build-k8s.sh (run here when missing). Idempotent: a binary stamped for its version and
# an image whose content-hash tag exists are not built again, so a warm run takes seconds.
#
# The node image is assembled the way kind's own `build node-image` does it, without its
# registry pulls: a Dockerfile installs Debian's systemd, runc and CNI plugins, kind's base files
# (entrypoint, systemd units, containerd config: read from kind's Go module) and the binaries;
# then the component images are imported into the node's containerd (content only, as kind
# does: `ctr images import --no-unpack`) in a running container, which is committed.
#
# What differs from kind's published images, and why:
#   - kindnetd's Go module is not served by the module proxy here: the node carries a static CNI
#     configuration (bridge + host-local from Debian's plugins, deploy/kind/node/) for the one
#     node the cluster has, and kind's default CNI manifest is replaced by a ConfigMap that
#     says so.
#   - containerd is built from its Go module (Kubernetes 1.36+ needs containerd 2); runc and the
#     CNI plugins are Debian bookworm's packages; local-path-provisioner is the newest release
#     the module proxy serves (kind builds v0.0.34).
#   - The node's entrypoint runs deploy/kind/node/files/usr/local/bin/drillbook-kind-prelude
#     first, for machines where Docker cannot start --privileged containers (scripts/kind-up.sh,
#     deploy/kind/README.md); on others it changes nothing.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

kind_version="${DRILLBOOK_KIND_VERSION:-v0.33.0}"
k8s_version="${DRILLBOOK_K8S_VERSION:-v1.37.2}"
containerd_version="${DRILLBOOK_CONTAINERD_VERSION:-v2.3.4}"
local_path_version="${DRILLBOOK_LOCAL_PATH_VERSION:-v0.0.30}"
# Not a real host (.local is reserved for the local network): a name no registry answers for.
image_repository="drillbook.local"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$(drillbook_cache)"
root="$cache/kind-${kind_version}-k8s-${k8s_version}"
bin="$root/bin"
stamps="$root/stamps"
times="$cache/build-times.txt"
k8s_bin="$cache/k8s-${k8s_version}/bin"
deploy="$repo/deploy/kind"
mkdir -p "$bin" "$stamps" "$root/src" "$root/logs"
export PATH="$PATH:/usr/sbin:/sbin"
# The classic builder: it needs no buildx plugin, and every Dockerfile here is plain.
export DOCKER_BUILDKIT=0

say() { echo "build-kind: $*" >&2; }
fail() {
    say "$*"
    exit 1
}

if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] && export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || fail "the go command is missing; install Go 1.26 or newer"
docker info >/dev/null 2>&1 ||
    fail "no Docker engine answers (socket ${DOCKER_HOST:-unix:///var/run/docker.sock}); start one with: bash scripts/docker-up.sh"

# One build at a time: two sessions starting together wait for each other.
exec 9>"$root/build-kind.lock"
flock 9
start_all="$(date +%s)"

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
GOCACHE="${GOCACHE:-$(go env GOCACHE)}"
export GOCACHE
# Other work shares these cores: every build runs at the lowest priority.
nice_cmd=(nice -n 19)

# --- Go binaries ---------------------------------------------------------------------------
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
        kubelet) echo "takes about 3 min on 2 cores" ;;
        kubeadm | containerd | coredns) echo "takes about 2 min on 2 cores" ;;
        *) echo "takes about 1 min on 2 cores" ;;
    esac
}

# built NAME VERSION: true when NAME was already built at VERSION.
built() { [[ -x "$bin/$1" && -f "$stamps/$1-$2" ]]; }
built_now=()

# build NAME VERSION DIR COMMAND...: run COMMAND in DIR (it writes $bin/NAME.tmp), move the
# binary into place, stamp it (after the rename) and record the build's wall time. The old
# stamp and binary go first: neither may outlive a build that stops midway.
build() {
    local name="$1" version="$2" dir="$3"
    shift 3
    local start seconds note
    rm -f "$stamps/$name-"* "$bin/$name" "$bin/$name.tmp"
    note="$(build_note "$times" "kind-$name" "$(typical "$name")")"
    say "building $name $version ($note)"
    start="$(date +%s)"
    cd "$dir"
    with_heartbeat build-kind "building $name" "$note" "$@"
    cd "$root"
    [[ -x "$bin/$name.tmp" ]] || fail "building $name finished but produced no $bin/$name.tmp"
    mv -f "$bin/$name.tmp" "$bin/$name"
    touch "$stamps/$name-$version"
    seconds="$(($(date +%s) - start))"
    record_build_time "$times" "kind-$name" "$version" "$seconds"
    say "$name built in $(fmt_duration "$seconds")"
    built_now+=("$name")
}

# go_install NAME PACKAGE@VERSION GO-FLAGS...: `go install` into a private GOBIN (~/go/bin stays
# untouched), then a copy to $bin/NAME.tmp for build() to rename.
go_install() {
    local name="$1" package="$2" gobin="$root/src/gobin"
    shift 2
    rm -f "$gobin/$(basename "${package%@*}")"
    GOBIN="$gobin" "${nice_cmd[@]}" go install "$@" "$package" || return 1
    cp "$gobin/$(basename "${package%@*}")" "$bin/$name.tmp"
}

install_go_command() {
    local name="$1" package="$2" version="${2##*@}"
    shift 2
    built "$name" "$version" && return 0
    build "$name" "$version" "$root/src" go_install "$name" "$package" "$@"
}

# tidy WHAT DIR: `go mod tidy` of a wrapper module (it downloads the dependencies: minutes cold).
tidy() {
    local what="$1" dir="$2"
    say "resolving the $what wrapper module's dependencies"
    cd "$dir"
    with_heartbeat build-kind "resolving the $what module" "started at $(date +%T)" \
        "${nice_cmd[@]}" go mod tidy
    cd "$root"
}

# The node's Kubernetes commands, through a wrapper module as scripts/build-k8s.sh builds the
# control plane (k8s.io/kubernetes replaces its staging modules with ./staging paths).
k8s_module() {
    local dir="$root/src/kubernetes"
    [[ -f "$dir/go.sum" && -f "$dir/.ready-$k8s_version" ]] && return 0
    mkdir -p "$dir"
    rm -f "$dir/.ready-"*
    local gomod
    gomod=$(cd / && go mod download -json "k8s.io/kubernetes@${k8s_version}" |
        sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [[ -f "$gomod" ]] || fail "no go.mod for k8s.io/kubernetes@${k8s_version}"
    {
        echo "module drillbook.local/kindk8sbuild"
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
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubelet"
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

# build_etcd VERSION: the etcd server kubeadm names, through a wrapper module (its go.mod
# replaces ../api), as scripts/build-k8s.sh builds it.
build_etcd() {
    local version="$1" dir="$root/src/etcd"
    built etcd "$version" && return 0
    mkdir -p "$dir"
    rm -f "$dir/go.sum"
    cat >"$dir/go.mod" <<EOF
module drillbook.local/kindetcdbuild

go 1.26

require (
	go.etcd.io/etcd/api/v3 ${version}
	go.etcd.io/etcd/client/pkg/v3 ${version}
	go.etcd.io/etcd/client/v3 ${version}
	go.etcd.io/etcd/pkg/v3 ${version}
	go.etcd.io/etcd/server/v3 ${version}
)
EOF
    cat >"$dir/tools.go" <<'EOF'
//go:build tools

// Package tools pins the etcd server command this module exists to build.
package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
    tidy etcd "$dir"
    build etcd "$version" "$dir" "${nice_cmd[@]}" go build -ldflags "-s -w" \
        -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
}

# pause is C (Kubernetes' build/pause/linux/pause.c), linked statically as upstream does.
compile_pause() {
    local version="$1" source
    source="$(cd / && go mod download -json "k8s.io/kubernetes@${k8s_version}" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c"
    [[ -f "$source" ]] || return 1
    "${nice_cmd[@]}" gcc -Os -Wall -Werror -static "-DVERSION=v${version}" -o "$bin/pause.tmp" "$source"
}

build_pause() {
    local version="$1"
    built pause "$version" && return 0
    command -v gcc >/dev/null 2>&1 || fail "gcc is missing (it compiles the pause binary): apt-get install gcc libc6-dev"
    build pause "$version" "$root/src" compile_pause "$version"
}

[[ -x "$k8s_bin/kube-apiserver" && -x "$k8s_bin/kube-controller-manager" && -x "$k8s_bin/kube-scheduler" &&
    -x "$k8s_bin/kubectl" ]] || DRILLBOOK_K8S_VERSION="$k8s_version" bash "$repo/scripts/build-k8s.sh"

install_go_command kind "sigs.k8s.io/kind@${kind_version}" -ldflags "-s -w"
build_k8s_command kubeadm
build_k8s_command kubelet
build_k8s_command kube-proxy
containerd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=${containerd_version}"
for name in containerd ctr containerd-shim-runc-v2; do
    install_go_command "$name" "github.com/containerd/containerd/v2/cmd/${name}@${containerd_version}" \
        -tags "no_aufs no_zfs no_btrfs no_devmapper" -ldflags "$containerd_ldflags"
done

# The images kubeadm asks for at this version with our imageRepository (the same
# ClusterConfiguration field kind-up.sh sets): drillbook.local/NAME:TAG, one a line. kubeadm
# drops the sub-path its default repository gives CoreDNS, so coredns sits beside the others.
kubeadm_config="$root/kubeadm-images.yaml"
cat >"$kubeadm_config" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${k8s_version}
imageRepository: ${image_repository}
EOF
mapfile -t kubeadm_images < <("$bin/kubeadm" config images list --config "$kubeadm_config" 2>/dev/null)
# The repositories kubeadm names by default: the node image must mention none of them.
mapfile -t default_repositories < <("$bin/kubeadm" config images list --kubernetes-version "$k8s_version" 2>/dev/null |
    sed 's|/[^/]*$||' | sort -u)
((${#kubeadm_images[@]} >= 7)) || fail "kubeadm config images list gave no image list: ${kubeadm_images[*]:-nothing}"
for image in "${kubeadm_images[@]}"; do
    [[ "$image" == "$image_repository"/* ]] ||
        fail "kubeadm asks for $image, outside the imageRepository $image_repository it was given"
done
((${#default_repositories[@]})) || fail "kubeadm config images list named no default repository"
# image_tag NAME: the tag kubeadm asks for NAME (the last path element of the repository).
image_tag() {
    local image
    for image in "${kubeadm_images[@]}"; do
        [[ "${image%:*}" == */"$1" ]] && { printf '%s\n' "${image##*:}"; return 0; }
    done
    fail "kubeadm asks for no $1 image (it lists: ${kubeadm_images[*]})"
}
etcd_tag="$(image_tag etcd)"
coredns_tag="$(image_tag coredns)"
pause_tag="$(image_tag pause)"
etcd_version="v${etcd_tag%-*}"
build_etcd "$etcd_version"
install_go_command coredns "github.com/coredns/coredns@${coredns_tag}" -ldflags "-s -w"
install_go_command local-path-provisioner "github.com/rancher/local-path-provisioner@${local_path_version}" \
    -ldflags "-s -w -X main.VERSION=${local_path_version}"
build_pause "$pause_tag"
if ((${#built_now[@]})); then
    say "binaries ready in $bin (built now: ${built_now[*]})"
fi

# --- images --------------------------------------------------------------------------------
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }

kind_dir="$(cd / && go mod download -json "sigs.k8s.io/kind@${kind_version}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$kind_dir/images/base/files" ]] || fail "kind's module source is missing (go mod download sigs.k8s.io/kind@${kind_version})"

# The Debian base scripts/build-images.sh makes (the same tag, computed the same way there),
# or DRILLBOOK_BASE_IMAGE as there. Missing, build-images.sh makes it (with its other images).
debian_base() {
    if [[ -n "${DRILLBOOK_BASE_IMAGE:-}" ]]; then
        printf '%s\n' "$DRILLBOOK_BASE_IMAGE"
        return 0
    fi
    local dbversion key
    dbversion="$(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null || echo unknown)"
    key="bookworm-minbase-debootstrap-${dbversion//[^A-Za-z0-9.]/_}"
    printf 'drillbook/debian:bookworm-%s\n' "$(printf '%s' "$key" | sha256sum | cut -c1-12)"
}
base="$(debian_base)"
if ! image_exists "$base"; then
    say "the Debian base $base is missing: scripts/build-images.sh builds it"
    bash "$repo/scripts/build-images.sh"
    base="$(debian_base)"
    image_exists "$base" || fail "scripts/build-images.sh ran but $base is still missing"
fi

# stage NAME SOURCE FILE...: a build context in the cache: SOURCE's files (a folder of
# deploy/kind) and FILEs (hard links where the cache's file system allows).
stage() {
    local name="$1" source="$2" dir="$root/context/$1" f
    shift 2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$source/." "$dir/"
    for f in "$@"; do cp -l "$f" "$dir/" 2>/dev/null || cp "$f" "$dir/"; done
    printf '%s\n' "$dir"
}

# build_image NAME SOURCE CONTEXT EXTRA...: build CONTEXT (staged from SOURCE) FROM the Debian
# base as drillbook-kind/NAME:<hash>. The hash covers SOURCE's files, the base image's id and
# the EXTRA strings (the version of each binary the context holds: binaries are keyed by
# version, as their stamps are). Extra `docker build` arguments: the array image_build_args.
# Sets $built to the tag.
image_build_args=()
build_image() {
    local name="$1" source="$2" context="$3"
    shift 3
    local hash tag t0 f files
    mapfile -t files < <(find "$source" -type f | LC_ALL=C sort)
    hash="$( (
        printf 'base %s\n' "$(image_id "$base")"
        printf '%s\n' "$@" "${image_build_args[@]}"
        for f in "${files[@]}"; do
            printf '%s %s\n' "${f#"$source"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
        done
    ) | sha256sum | cut -c1-16)"
    tag="drillbook-kind/$name:$hash"
    if image_exists "$tag"; then
        say "$name: $tag (up to date)"
    else
        say "$name: building $tag"
        t0="$(date +%s)"
        # --force-rm: a failed step's container goes too (the classic builder keeps it).
        # nice covers only the client: --cpu-shares gives the build's containers a low weight.
        "${nice_cmd[@]}" docker build --force-rm --cpu-shares 128 --build-arg "BASE_IMAGE=$base" "${image_build_args[@]}" \
            -t "$tag" --label "org.drillbook.content-hash=$hash" "$context" >"$root/logs/image-$name.log" 2>&1 ||
            fail "docker build of $name failed; the last lines of $root/logs/image-$name.log: $(tail -n 20 "$root/logs/image-$name.log")"
        record_build_time "$times" "kind-image-$name" "$hash" "$(($(date +%s) - t0))"
        say "$name: built $tag in $(fmt_duration "$(($(date +%s) - t0))")"
    fi
    image_build_args=()
    built="$tag"
}

# The names kubeadm asks for (under our imageRepository) and the local names given to the
# images kind's sources name, and the images built for them.
kubeadm_image() {
    local image
    for image in "${kubeadm_images[@]}"; do
        [[ "${image%:*}" == */"$1" ]] && { printf '%s\n' "$image"; return 0; }
    done
    fail "kubeadm asks for no $1 image"
}
storage_go="$kind_dir/pkg/build/nodeimage/const_storage.go"
containerd_config="$kind_dir/images/base/files/etc/containerd/config.toml"
# The names kind's source gives the storage images and containerd's sandbox (pause) image: the
# node image must not keep them.
kind_provisioner_image="$(sed -n 's/^const storageProvisionerImage = "\(.*\)"$/\1/p' "$storage_go")"
kind_helper_image="$(sed -n 's/^const storageHelperImage = "\(.*\)"$/\1/p' "$storage_go")"
kind_sandbox_image="$(sed -n 's/^[[:space:]]*sandbox_image = "\(.*\)"$/\1/p' "$containerd_config")"
[[ -n "$kind_provisioner_image" && -n "$kind_helper_image" && -n "$kind_sandbox_image" ]] ||
    fail "could not read the storage and sandbox image names from kind $kind_version's source"
# local_name IMAGE: IMAGE's last path element and tag under our repository.
local_name() { printf '%s/%s\n' "$image_repository" "${1##*/}"; }
provisioner_image="$(local_name "$kind_provisioner_image")"
helper_image="$(local_name "$kind_helper_image")"
# containerd's sandbox is kubeadm's pause image: one pause image in the node, not two.
sandbox_image="$(kubeadm_image pause)"
component_names=()

# component NAME BUILT-TAG WANTED...: tag the built image with every name the cluster asks for.
component() {
    local name="$1" tag="$2" wanted
    shift 2
    for wanted in "$@"; do
        docker tag "$tag" "$wanted"
        component_names+=("$wanted")
    done
    say "$name: tagged ${*}"
}

for name in kube-apiserver kube-controller-manager kube-scheduler; do
    image_build_args=(--build-arg "BINARY=$name")
    build_image "$name" "$deploy/images/control-plane" \
        "$(stage "$name" "$deploy/images/control-plane" "$k8s_bin/$name")" \
        "$name $(cd "$cache/k8s-${k8s_version}/stamps" && ls "$name-"* 2>/dev/null)"
    component "$name" "$built" "$(kubeadm_image "$name")"
done
image_build_args=(--build-arg "BINARY=etcd")
build_image etcd "$deploy/images/control-plane" "$(stage etcd "$deploy/images/control-plane" "$bin/etcd")" \
    "etcd $etcd_version"
component etcd "$built" "$(kubeadm_image etcd)"
build_image kube-proxy "$deploy/images/kube-proxy" "$(stage kube-proxy "$deploy/images/kube-proxy" "$bin/kube-proxy")" \
    "kube-proxy $k8s_version"
component kube-proxy "$built" "$(kubeadm_image kube-proxy)"
build_image coredns "$deploy/images/coredns" "$(stage coredns "$deploy/images/coredns" "$bin/coredns")" \
    "coredns $coredns_tag"
component coredns "$built" "$(kubeadm_image coredns)"
build_image pause "$deploy/images/pause" "$(stage pause "$deploy/images/pause" "$bin/pause")" "pause $pause_tag"
component pause "$built" "$sandbox_image"
build_image local-path-provisioner "$deploy/images/local-path-provisioner" \
    "$(stage local-path-provisioner "$deploy/images/local-path-provisioner" "$bin/local-path-provisioner")" \
    "local-path-provisioner $local_path_version"
component local-path-provisioner "$built" "$provisioner_image"
build_image local-path-helper "$deploy/images/local-path-helper" \
    "$(stage local-path-helper "$deploy/images/local-path-helper")"
component local-path-helper "$built" "$helper_image"

# --- the node image ------------------------------------------------------------------------
# kind's storage manifest (a Go constant in kind's source), as kind's `build node-image` writes
# it to /kind/manifests/default-storage.yaml.
storage_manifest() {
    awk '/^const defaultStorageManifest = `$/ { on = 1; next } on && /^`$/ { exit } on { print }' "$storage_go" |
        sed -e "s|\` + storageProvisionerImage + \`|$provisioner_image|" -e "s|\` + storageHelperImage + \`|$helper_image|"
}
node_context="$(stage node "$deploy/node")"
mkdir -p "$node_context/kind-base" "$node_context/bin" "$node_context/kube" "$node_context/files/kind/manifests"
cp -a "$kind_dir/images/base/files/usr" "$kind_dir/images/base/files/kind" "$kind_dir/images/base/files/etc" \
    "$node_context/kind-base/"
chmod -R u+w "$node_context/kind-base"
for name in containerd ctr containerd-shim-runc-v2; do cp -l "$bin/$name" "$node_context/bin/" 2>/dev/null || cp "$bin/$name" "$node_context/bin/"; done
cp "$bin/kubeadm" "$bin/kubelet" "$k8s_bin/kubectl" "$node_context/kube/"
printf '%s\n' "$k8s_version" >"$node_context/files/kind/version"
storage_manifest >"$node_context/files/kind/manifests/default-storage.yaml"
grep -q '`' "$node_context/files/kind/manifests/default-storage.yaml" &&
    fail "kind's storage manifest was not read cleanly from $storage_go"
# containerd's sandbox image, and any image a manifest kind applies names, under our repository.
sed -i "s|^\([[:space:]]*sandbox_image = \)\".*\"\$|\1\"$sandbox_image\"|" \
    "$node_context/kind-base/etc/containerd/config.toml"
grep -qxF "  sandbox_image = \"$sandbox_image\"" "$node_context/kind-base/etc/containerd/config.toml" ||
    fail "containerd's sandbox image was not set to $sandbox_image in the node's config.toml"
for manifest in "$node_context"/kind-base/kind/manifests/*.yaml "$node_context"/files/kind/manifests/*.yaml; do
    [[ -f "$manifest" ]] || continue
    sed -i -e "s|$kind_provisioner_image|$provisioner_image|g" -e "s|$kind_helper_image|$helper_image|g" \
        -e "s|$kind_sandbox_image|$sandbox_image|g" "$manifest"
done
# No file of the node's configuration may name a registry: not kubeadm's default repositories,
# nor the hosts of the names kind's source uses.
for registry in "${default_repositories[@]}" "${kind_provisioner_image%%/*}/" "${kind_helper_image%%/*}/" \
    "${kind_sandbox_image%%/*}/"; do
    if named_in="$(grep -rlF "$registry" "$node_context/kind-base/etc" "$node_context/kind-base/kind" "$node_context/files")"; then
        fail "the node's files still name a registry (${registry%%/*}): $named_in"
    fi
done
build_image node-base "$deploy/node" "$node_context" "kind $kind_version" "k8s $k8s_version" \
    "containerd $containerd_version" "kubectl $(cd "$cache/k8s-${k8s_version}/stamps" && ls kubectl-* 2>/dev/null)" \
    "storage $(storage_manifest | sha256sum | cut -c1-16)" "sandbox $sandbox_image"
node_base="$built"

# The node image: the base plus every component image in its containerd, keyed by the ids of
# all of them.
node_hash="$( (
    image_id "$node_base"
    for name in "${component_names[@]}"; do printf '%s %s\n' "$name" "$(image_id "$name")"; done
) | sha256sum | cut -c1-16)"
node_image="drillbook-kind/node:${k8s_version}-${node_hash}"
if image_exists "$node_image"; then
    say "node: $node_image (up to date)"
else
    say "node: importing ${#component_names[@]} images into the node's containerd"
    t0="$(date +%s)"
    builder="drillbook-kind-build-$$"
    docker rm -f "$builder" >/dev/null 2>&1 || true
    # The container goes however this script ends (the heartbeat's trap comes along).
    trap 'docker rm -f "$builder" >/dev/null 2>&1 || true; stop_heartbeat' EXIT
    # Importing content needs no privilege (containerd skips the snapshotters it cannot use).
    docker run -d --name "$builder" --entrypoint sleep "$node_base" infinity >/dev/null
    docker exec -d "$builder" sh -c 'containerd >/var/log/containerd-build.log 2>&1'
    ready=""
    for _ in $(seq 1 60); do
        if docker exec "$builder" ctr version >/dev/null 2>&1; then
            ready=yes
            break
        fi
        sleep 0.5
    done
    [[ -n "$ready" ]] || fail "containerd did not answer in the build container within 30 s: $(docker exec "$builder" cat /var/log/containerd-build.log | tail -n 20)"
    # Content only, pinned, as kind's build does: the images unpack into the node's own /var
    # when the cluster starts.
    docker save "${component_names[@]}" |
        docker exec -i "$builder" ctr --namespace=k8s.io images import \
            --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - \
            >"$root/logs/node-import.log" 2>&1 ||
        fail "importing the images into the node failed; see $root/logs/node-import.log"
    imported="$(docker exec "$builder" ctr --namespace=k8s.io images list -q 2>>"$root/logs/node-import.log")"
    # Every name is fully qualified (drillbook.local/...): containerd lists it as given.
    for name in "${component_names[@]}"; do
        grep -qxF "$name" <<<"$imported" || fail "the node's containerd lacks $name after the import (it has: $imported)"
    done
    docker exec "$builder" sh -c 'pkill containerd; for i in $(seq 1 50); do pgrep containerd >/dev/null || exit 0; sleep 0.2; done; exit 1' ||
        fail "containerd did not stop in the build container within 10 s"
    docker exec "$builder" rm -f /var/log/containerd-build.log
    docker commit --change 'ENTRYPOINT [ "/usr/local/bin/drillbook-kind-prelude", "/usr/local/bin/entrypoint", "/sbin/init" ]' \
        --change 'CMD []' "$builder" "$node_image" >/dev/null
    docker rm -f "$builder" >/dev/null
    record_build_time "$times" kind-node-image "$node_hash" "$(($(date +%s) - t0))"
    say "node: committed $node_image in $(fmt_duration "$(($(date +%s) - t0))")"
fi
docker tag "$node_image" "drillbook-kind/node:${k8s_version}"
# Older node images of this Kubernetes version go (the node and its base: about 1 GB each); an
# image a cluster still runs stays (Docker refuses to untag it while a container uses it).
while read -r old; do
    [[ "$old" == "$node_image" || "$old" == "$node_base" ]] && continue
    [[ "$old" == "drillbook-kind/node:${k8s_version}-"* || "$old" == drillbook-kind/node-base:* ]] || continue
    if docker rmi "$old" >/dev/null 2>&1; then say "removed the older image $old"; fi
done < <(docker images --format '{{.Repository}}:{{.Tag}}' drillbook-kind/node; docker images --format '{{.Repository}}:{{.Tag}}' drillbook-kind/node-base)
# Written under a partial name and renamed: kind-up.sh never reads half a name.
printf '%s\n' "$image_repository" >"$root/image-repository.partial"
mv -f "$root/image-repository.partial" "$root/image-repository"
printf '%s\n' "$node_image" >"$root/node-image.partial"
mv -f "$root/node-image.partial" "$root/node-image"
say "ready in $(fmt_duration "$(($(date +%s) - start_all))"): kind $bin/kind, node image $node_image"
