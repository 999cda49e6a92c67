#!/usr/bin/env bash
# Create drillbook's kind cluster from k8s/kind-cluster.yaml with the node image built here
# (scripts/build-kind.sh, run first: seconds when nothing changed), wait until the node is Ready
# and CoreDNS runs, and print the kubeconfig to use on stdout:
#
#   export KUBECONFIG="$(bash scripts/kind-up.sh)"
#
#   DRILLBOOK_KIND_CLUSTER     the cluster's name (drillbook-kind): its node container is
#                              NAME-control-plane, its kube context kind-NAME
#   DRILLBOOK_KIND_CONFIG      the kind configuration (k8s/kind-cluster.yaml)
#   DRILLBOOK_KIND_WAIT_SECONDS  how long the node and CoreDNS may take to get ready (300)
#   DRILLBOOK_KIND_RETAIN=1    keep the node container when creating fails (to read its logs)
#
# The kubeconfig is ${DRILLBOOK_CACHE:-~/.cache/drillbook}/kind-clusters/NAME/kubeconfig, never
# ~/.kube/config; beside it, `kind` runs kind for this cluster as kind-up.sh did (use it for
# `kind load docker-image IMAGE --name NAME`: see the --privileged note below). Idempotent: a cluster of that name that exists already is waited for and its
# kubeconfig written again. The nodes sit on the Docker network drillbook-kind (kind's own
# default, "kind", is left to others). scripts/kind-down.sh deletes the cluster.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

# The same versions and cache folder as scripts/build-kind.sh.
kind_version="${DRILLBOOK_KIND_VERSION:-v0.33.0}"
k8s_version="${DRILLBOOK_K8S_VERSION:-v1.37.2}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$(drillbook_cache)"
root="$cache/kind-${kind_version}-k8s-${k8s_version}"
cluster="${DRILLBOOK_KIND_CLUSTER:-drillbook-kind}"
config="${DRILLBOOK_KIND_CONFIG:-$repo/k8s/kind-cluster.yaml}"
wait_seconds="${DRILLBOOK_KIND_WAIT_SECONDS:-300}"
state="$cache/kind-clusters/$cluster"
kubeconfig="$state/kubeconfig"
kind="$root/bin/kind"
kubectl="$cache/k8s-${k8s_version}/bin/kubectl"
export KIND_EXPERIMENTAL_DOCKER_NETWORK=drillbook-kind

say() { echo "kind-up: $*" >&2; }
fail() {
    say "$*"
    exit 1
}

[[ -f "$config" ]] || fail "no kind configuration at $config"
bash "$repo/scripts/build-kind.sh"
node_image="$(cat "$root/node-image")"
image_repository="$(cat "$root/image-repository")"
mkdir -p "$state"

# The node's images sit under build-kind.sh's local repository (drillbook.local), not under the
# names kubeadm asks for by default: kubeadm is told so by one more kubeadmConfigPatches entry,
# added to a copy of the configuration (k8s/kind-cluster.yaml itself serves CI's stock kind too,
# whose node images carry the default names).
cluster_config="$state/kind-cluster.yaml"
export DRILLBOOK_KIND_IMAGE_PATCH="  - |
    kind: ClusterConfiguration
    imageRepository: ${image_repository}"
if grep -qE '^kubeadmConfigPatches:[[:space:]]*$' "$config"; then
    awk '{ print } /^kubeadmConfigPatches:[[:space:]]*$/ { print ENVIRON["DRILLBOOK_KIND_IMAGE_PATCH"] }' \
        "$config" >"$cluster_config"
else
    { cat "$config"; printf 'kubeadmConfigPatches:\n%s\n' "$DRILLBOOK_KIND_IMAGE_PATCH"; } >"$cluster_config"
fi
grep -qxF "    imageRepository: ${image_repository}" "$cluster_config" ||
    fail "could not add the imageRepository patch to a copy of $config"

# kind starts its nodes --privileged. Where Docker cannot (the machine's capability bounding set
# lacks one Docker grants privileged containers: runc says "unable to apply caps"), kind runs
# with deploy/kind/docker-unprivileged as its docker command, which asks for every capability
# the machine has instead; everywhere else kind runs untouched.
# Every later kind command (`kind load docker-image`, ...) must run the same way: $state/kind
# is kind with the right docker command.
cluster_kind="$state/kind"
shim="$state/docker-shim"
rm -rf "$shim"
{
    echo '#!/usr/bin/env bash'
    echo "# Written by scripts/kind-up.sh: kind $kind_version for the cluster $cluster."
    echo "export KIND_EXPERIMENTAL_DOCKER_NETWORK=$KIND_EXPERIMENTAL_DOCKER_NETWORK"
} >"$cluster_kind.partial"
if ! privileged_probe="$(docker run --rm --name "drillbook-kind-probe-$$" --privileged --entrypoint true "$node_image" 2>&1)"; then
    [[ "$privileged_probe" == *"unable to apply caps"* ]] ||
        fail "a --privileged container does not start here: $privileged_probe"
    mkdir -p "$shim"
    ln -sfn "$repo/deploy/kind/docker-unprivileged" "$shim/docker"
    # Resolved before PATH changes: the stand-in must call the real docker, not itself.
    DRILLBOOK_KIND_REAL_DOCKER="$(command -v docker)"
    export DRILLBOOK_KIND_REAL_DOCKER
    export PATH="$shim:$PATH"
    {
        echo "export DRILLBOOK_KIND_REAL_DOCKER=$DRILLBOOK_KIND_REAL_DOCKER"
        echo "export PATH=\"$shim:\$PATH\""
    } >>"$cluster_kind.partial"
    say "Docker cannot start --privileged containers here (runc: unable to apply caps): kind's nodes get every capability this machine has instead"
fi
echo "exec $kind \"\$@\"" >>"$cluster_kind.partial"
chmod +x "$cluster_kind.partial"
mv -f "$cluster_kind.partial" "$cluster_kind"
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }

start="$(date +%s)"
if "$kind" get clusters 2>/dev/null | grep -qxF "$cluster"; then
    say "cluster $cluster exists already; writing its kubeconfig and waiting for it"
    "$kind" export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig" >&2
else
    say "creating cluster $cluster from $config (imageRepository $image_repository) with $node_image"
    retain=()
    [[ "${DRILLBOOK_KIND_RETAIN:-}" == 1 ]] && retain=(--retain)
    # Bounded: kind's own steps have no overall limit.
    timeout 600 "$kind" create cluster --name "$cluster" --config "$cluster_config" --image "$node_image" \
        --kubeconfig "$kubeconfig" "${retain[@]}" >&2 ||
        fail "kind create cluster failed (DRILLBOOK_KIND_RETAIN=1 keeps the node container to read its journal: docker exec $cluster-control-plane journalctl)"
    say "cluster created in $(fmt_duration "$(($(date +%s) - start))")"
fi
# Every wait below polls a condition with a deadline (kubectl's own --timeout).
k wait --for=condition=Ready node --all --timeout="${wait_seconds}s" >&2 ||
    fail "the node of $cluster did not get Ready within ${wait_seconds}s: $(k get nodes -o wide 2>&1)"
say "node Ready $(fmt_duration "$(($(date +%s) - start))") after the start"
k -n kube-system rollout status deployment/coredns --timeout="${wait_seconds}s" >&2 ||
    fail "CoreDNS did not run within ${wait_seconds}s: $(k -n kube-system get pods -o wide 2>&1)"
say "CoreDNS running $(fmt_duration "$(($(date +%s) - start))") after the start; context kind-$cluster"
say "kind for this cluster (e.g. $cluster_kind load docker-image IMAGE --name $cluster): $cluster_kind"
printf '%s\n' "$kubeconfig"
