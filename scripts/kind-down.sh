#!/usr/bin/env bash
# Delete the kind cluster scripts/kind-up.sh created (only that one, by name) and its kubeconfig,
# and the Docker network drillbook-kind when no other container uses it. Idempotent: a cluster
# that is not there is nothing to do.
#
#   DRILLBOOK_KIND_CLUSTER     the cluster's name (drillbook-kind), as for kind-up.sh
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

# The same versions and cache folder as scripts/build-kind.sh.
kind_version="${DRILLBOOK_KIND_VERSION:-v0.33.0}"
k8s_version="${DRILLBOOK_K8S_VERSION:-v1.37.2}"
cache="$(drillbook_cache)"
root="$cache/kind-${kind_version}-k8s-${k8s_version}"
cluster="${DRILLBOOK_KIND_CLUSTER:-drillbook-kind}"
state="$cache/kind-clusters/$cluster"
kind="$root/bin/kind"
network=drillbook-kind

say() { echo "kind-down: $*" >&2; }

if [[ -x "$kind" ]] && "$kind" get clusters 2>/dev/null | grep -qxF "$cluster"; then
    say "deleting cluster $cluster"
    timeout 300 "$kind" delete cluster --name "$cluster" --kubeconfig "$state/kubeconfig" >&2
else
    say "no cluster $cluster: nothing to delete"
fi
rm -rf "$state"
# kind leaves its network behind; this one is ours alone, and Docker refuses to remove it while
# any container is attached.
if docker network inspect "$network" >/dev/null 2>&1; then
    if [[ -z "$(docker network inspect --format '{{range .Containers}}{{.Name}} {{end}}' "$network")" ]]; then
        docker network rm "$network" >/dev/null && say "removed the Docker network $network"
    else
        say "the Docker network $network still has containers; left in place"
    fi
fi
