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
#   DRILLBOOK_KIND_DEPLOY=0    the cluster only, without the reference stack
#   DRILLBOOK_KIND_BUILD_IMAGES=0  load the drillbook/*:local images as they are, without
#                              running scripts/build-images.sh first (content-hashed: seconds warm)
#   DRILLBOOK_KIND_PUBLISHED=1  for machines that reach the registries (.github/workflows/drills.yml):
#                              the kind and kubectl on PATH and kind's published node image
#                              instead of scripts/build-kind.sh's; scripts/build-images.sh starts
#                              from a pulled Debian image (DRILLBOOK_BASE_IMAGE, default
#                              debian:bookworm) instead of debootstrap. Every step after the
#                              cluster is the same: the same images, deploy/kind/overlay, the
#                              same kind-only manifests, so CI drills exactly what runs here.
#   ELEANOR_JWT_SECRET         the API's JWT secret (else the cluster's, else a generated one)
#
# Then the reference stack: the images of scripts/build-images.sh loaded into the node, the
# secrets (never printed), `kubectl apply -k deploy/kind/overlay` (k8s/production with those
# images) and k8s/kind-postgres.yaml, every workload Ready, the Precedent schema Job complete and
# /health "healthy" through the published NodePort (127.0.0.1:8080). The drills' secrets are in
# NAME/drill.env beside the kubeconfig (mode 0600):
#
#   set -a; . ~/.cache/drillbook/kind-clusters/drillbook-kind/drill.env; set +a
#   pytest drills/monthly --drillbook-config configs/kind.toml
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
deploy="${DRILLBOOK_KIND_DEPLOY:-1}"
build_images="${DRILLBOOK_KIND_BUILD_IMAGES:-1}"
published="${DRILLBOOK_KIND_PUBLISHED:-0}"
drill_env="$state/drill.env"
health_url="http://127.0.0.1:8080/health"
export KIND_EXPERIMENTAL_DOCKER_NETWORK=drillbook-kind

say() { echo "kind-up: $*" >&2; }
fail() {
    say "$*"
    exit 1
}

[[ -f "$config" ]] || fail "no kind configuration at $config"
if [[ "$published" == 1 ]]; then
    # Stock kind: its default node image, kubeadm's default image names, k8s/kind-cluster.yaml
    # as it is. Only the messages below name node_image and image_repository.
    kind="$(command -v kind)" || fail "DRILLBOOK_KIND_PUBLISHED=1 needs kind $kind_version on PATH"
    kubectl="$(command -v kubectl)" || fail "DRILLBOOK_KIND_PUBLISHED=1 needs kubectl on PATH"
    node_image="kind's published node image"
    image_repository="kubeadm's default"
    image_args=()
    mkdir -p "$state"
    cluster_config="$config"
else
    bash "$repo/scripts/build-kind.sh"
    node_image="$(cat "$root/node-image")"
    image_repository="$(cat "$root/image-repository")"
    image_args=(--image "$node_image")
    mkdir -p "$state"

    # The node's images sit under build-kind.sh's local repository (drillbook.local), not under
    # the names kubeadm asks for by default: kubeadm is told so by one more kubeadmConfigPatches
    # entry, added to a copy of the configuration (k8s/kind-cluster.yaml itself serves stock
    # kind too, DRILLBOOK_KIND_PUBLISHED=1, whose node images carry the default names).
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
fi

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
# Stock kind (DRILLBOOK_KIND_PUBLISHED=1) runs on machines whose Docker starts them as it is.
if [[ "$published" != 1 ]] && ! privileged_probe="$(docker run --rm --name "drillbook-kind-probe-$$" --privileged --entrypoint true "$node_image" 2>&1)"; then
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

# The network on a fixed subnet, made here before kind would make one with a subnet of Docker's
# choosing: the one node is then always at $node_address, the address the cache's Sentinels
# announce (hostNetwork pods, k8s/kind-redis.yaml) and configs/kind.toml names, reachable from
# this machine through the bridge without a published port or a route of its own.
network="$KIND_EXPERIMENTAL_DOCKER_NETWORK"
network_subnet="${DRILLBOOK_KIND_SUBNET:-172.16.240.0/24}"
node_address="${network_subnet%.0/24}.2"
if ! docker network inspect "$network" >/dev/null 2>&1; then
    docker network create --driver bridge --subnet "$network_subnet" \
        --gateway "${network_subnet%.0/24}.1" \
        --opt com.docker.network.bridge.enable_ip_masquerade=true "$network" >/dev/null ||
        fail "could not create the Docker network $network on $network_subnet (DRILLBOOK_KIND_SUBNET picks another /24)"
fi
actual_subnet="$(docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$network")"
[[ " $actual_subnet " == *" $network_subnet "* ]] ||
    fail "the Docker network $network has the subnet $actual_subnet, not $network_subnet: delete it (bash scripts/kind-down.sh) and run kind-up.sh again"

start="$(date +%s)"
if "$kind" get clusters 2>/dev/null | grep -qxF "$cluster"; then
    say "cluster $cluster exists already; writing its kubeconfig and waiting for it"
    "$kind" export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig" >&2
else
    say "creating cluster $cluster from $config (imageRepository $image_repository) with $node_image"
    retain=()
    [[ "${DRILLBOOK_KIND_RETAIN:-}" == 1 ]] && retain=(--retain)
    # Bounded: kind's own steps have no overall limit.
    timeout 600 "$kind" create cluster --name "$cluster" --config "$cluster_config" "${image_args[@]}" \
        --kubeconfig "$kubeconfig" "${retain[@]}" >&2 ||
        fail "kind create cluster failed (DRILLBOOK_KIND_RETAIN=1 keeps the node container to read its journal: docker exec $cluster-control-plane journalctl)"
    say "cluster created in $(fmt_duration "$(($(date +%s) - start))")"
fi
# Every wait below polls a condition with a deadline (kubectl's own --timeout).
k wait --for=condition=Ready node --all --timeout="${wait_seconds}s" >&2 ||
    fail "the node of $cluster did not get Ready within ${wait_seconds}s: $(k get nodes -o wide 2>&1)"
node_ip="$(docker inspect --format "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$cluster-control-plane")"
[[ "$node_ip" == "$node_address" ]] ||
    fail "the node $cluster-control-plane has the address '$node_ip' on $network, not $node_address, which configs/kind.toml names: bash scripts/kind-down.sh, then kind-up.sh again"
say "node Ready $(fmt_duration "$(($(date +%s) - start))") after the start"
k -n kube-system rollout status deployment/coredns --timeout="${wait_seconds}s" >&2 ||
    fail "CoreDNS did not run within ${wait_seconds}s: $(k -n kube-system get pods -o wide 2>&1)"
say "CoreDNS running $(fmt_duration "$(($(date +%s) - start))") after the start; context kind-$cluster"
say "kind for this cluster (e.g. $cluster_kind load docker-image IMAGE --name $cluster): $cluster_kind"

# --- the reference stack: images, secrets, deploy/kind/overlay, Ready and healthy -------------
if [[ "$deploy" == 1 ]]; then
    # The images the stack runs that the node cannot pull, and the stack that names them.
    # The same images and stack on both paths; with registry access the images' Debian base is
    # pulled rather than made with debootstrap (which needs root).
    images=(drillbook/postgres:local drillbook/redis:local drillbook/weaviate:local
        drillbook/python:local drillbook/openbao:local)
    stack="$repo/deploy/kind/overlay"
    if [[ "$build_images" == 1 ]]; then
        if [[ "$published" == 1 ]]; then
            DRILLBOOK_BASE_IMAGE="${DRILLBOOK_BASE_IMAGE:-debian:bookworm}" nice -n 19 bash "$repo/scripts/build-images.sh" >&2
        else
            nice -n 19 bash "$repo/scripts/build-images.sh" >&2
        fi
    fi
    # The image ID (config digest) containerd holds on the node under IMAGE's name, or nothing.
    # kind's own check asks crictl, which the node image built here does not have, so without
    # this every run would load every image again (over a minute for the four).
    node_image_id() {
        local digest
        digest="$(docker exec "$cluster-control-plane" ctr -n k8s.io images ls "name==docker.io/$1" 2>/dev/null |
            awk 'NR == 2 { print $3 }')"
        [[ -n "$digest" ]] || return 0
        docker exec "$cluster-control-plane" ctr -n k8s.io content get "$digest" 2>/dev/null |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])' 2>/dev/null || true
    }
    for image in "${images[@]}"; do
        load_start="$(date +%s)"
        if [[ "$(node_image_id "$image")" == "$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" ]]; then
            say "image $image is in the node already"
            continue
        fi
        "$cluster_kind" load docker-image "$image" --name "$cluster" >&2 ||
            fail "could not load $image into $cluster (built by scripts/build-images.sh?)"
        say "image $image in the node after $(fmt_duration "$(($(date +%s) - load_start))")"
    done
    k apply -f "$repo/k8s/base/namespaces.yaml" >&2
    # The secrets: what the cluster holds already is kept (PostgreSQL took its password at its
    # first start), ELEANOR_JWT_SECRET replaces the JWT secret when given, else one is generated.
    # Values travel in environment variables and stdin only (never argv, never printed); the
    # runner gets them from $drill_env (mode 0600).
    secret_value() {
        k -n "$1" get secret "$2" -o "jsonpath={.data.$3}" 2>/dev/null | base64 -d 2>/dev/null || true
    }
    new_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
    old_jwt="$(secret_value eleanor-v8 eleanor-v8-jwt-secret jwt-secret)"
    DRILLBOOK_KIND_JWT="${ELEANOR_JWT_SECRET:-${old_jwt:-$(new_secret)}}"
    DRILLBOOK_KIND_DB_PASSWORD="$(secret_value eleanor-db postgres-credentials password)"
    [[ -n "$DRILLBOOK_KIND_DB_PASSWORD" ]] || DRILLBOOK_KIND_DB_PASSWORD="$(new_secret)"
    # The secrets drill's break-glass copy (the API's LLM API key, deployed on the env provider)
    # and OpenBao's dev root token (k8s/kind-secrets.yaml): kept, else the caller's, else new.
    old_llm_key="$(secret_value eleanor-v8 eleanor-v8-llm-api-key llm-api-key)"
    DRILLBOOK_KIND_LLM_KEY="${ELEANOR_LLM_API_KEY:-${old_llm_key:-$(new_secret)}}"
    old_bao_token="$(secret_value eleanor-secrets openbao-root-token token)"
    DRILLBOOK_KIND_BAO_TOKEN="${OPENBAO_ROOT_TOKEN:-${old_bao_token:-$(new_secret)}}"
    export DRILLBOOK_KIND_JWT DRILLBOOK_KIND_DB_PASSWORD DRILLBOOK_KIND_LLM_KEY DRILLBOOK_KIND_BAO_TOKEN
    python3 - <<'SECRETS' | k apply -f - >&2
import hashlib, json, os
def secret(namespace, name, key, variable):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {key: os.environ[variable]}}
llm_key = secret("eleanor-v8", "eleanor-v8-llm-api-key", "llm-api-key", "DRILLBOOK_KIND_LLM_KEY")
# The service's LLM stand-in knows only the key's SHA-256 (deploy/kind/overlay/app-secrets.yaml).
llm_key["stringData"]["llm-key-sha256"] = hashlib.sha256(
    os.environ["DRILLBOOK_KIND_LLM_KEY"].encode()).hexdigest()
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "eleanor-secrets"}},
    secret("eleanor-v8", "eleanor-v8-secrets", "db-password", "DRILLBOOK_KIND_DB_PASSWORD"),
    secret("eleanor-v8", "eleanor-v8-jwt-secret", "jwt-secret", "DRILLBOOK_KIND_JWT"),
    secret("eleanor-db", "postgres-credentials", "password", "DRILLBOOK_KIND_DB_PASSWORD"),
    llm_key,
    secret("eleanor-secrets", "openbao-root-token", "token", "DRILLBOOK_KIND_BAO_TOKEN"),
]}))
SECRETS
    deploy_start="$(date +%s)"
    k apply -k "$stack" >&2
    k apply -f "$repo/k8s/kind-postgres.yaml" >&2
    # The database's backups volume, which the overlay mounts into statefulset/postgres.
    k apply -f "$repo/k8s/kind-postgres-backups.yaml" >&2
    # OpenBao and moto (127.0.0.1:15200, :15500): the secrets drills' providers.
    k apply -f "$repo/k8s/kind-secrets.yaml" >&2
    # The cache: Redis with Sentinel on the node's network (k8s/kind-redis.yaml; the overlay
    # leaves the base's redis out). A redis StatefulSet of the base's form (one pod started in
    # order, with a volume) cannot be changed into it (podManagementPolicy is immutable): it is
    # replaced, its unused volume claim with it.
    if [[ "$(k -n eleanor-cache get statefulset redis -o 'jsonpath={.spec.podManagementPolicy}' 2>/dev/null)" == OrderedReady ]]; then
        say "replacing the base's statefulset/redis with k8s/kind-redis.yaml's (Redis with Sentinel)"
        k -n eleanor-cache delete statefulset redis --cascade=foreground --wait=true --timeout="${wait_seconds}s" >&2
        k -n eleanor-cache delete pvc data-redis-0 --ignore-not-found --wait=false >&2
    fi
    k apply -f "$repo/k8s/kind-redis.yaml" >&2
    # Weaviate's REST and gRPC NodePorts (127.0.0.1:15880, :15851): the vector-store drills.
    k apply -f "$repo/k8s/kind-weaviate.yaml" >&2
    # Pods read their secrets at start: a JWT secret or LLM key that changed restarts the API's
    # pods, a root token that changed OpenBao's (a dev server: it starts empty, drills seed it).
    if [[ -n "$old_jwt" && "$old_jwt" != "$DRILLBOOK_KIND_JWT" ]] ||
        [[ -n "$old_llm_key" && "$old_llm_key" != "$DRILLBOOK_KIND_LLM_KEY" ]]; then
        say "the JWT secret or the LLM API key changed: restarting deployment/eleanor-v8"
        k -n eleanor-v8 rollout restart deployment/eleanor-v8 >&2
    fi
    if [[ -n "$old_bao_token" && "$old_bao_token" != "$DRILLBOOK_KIND_BAO_TOKEN" ]]; then
        say "OpenBao's root token changed: restarting deployment/openbao"
        k -n eleanor-secrets rollout restart deployment/openbao >&2
    fi
    for workload in eleanor-db/statefulset/postgres eleanor-cache/statefulset/redis \
        eleanor-vector/statefulset/weaviate eleanor-v8/deployment/eleanor-v8; do
        k -n "${workload%%/*}" rollout status "${workload#*/}" --timeout="${wait_seconds}s" >&2 ||
            fail "${workload#*/} in ${workload%%/*} did not get Ready within ${wait_seconds}s: $(k -n "${workload%%/*}" get pods -o wide 2>&1)"
    done
    # The cache's Sentinels (k8s/kind-redis.yaml) and the secrets providers (k8s/kind-secrets.yaml).
    for workload in deployment/openbao deployment/moto; do
        k -n eleanor-secrets rollout status "$workload" --timeout="${wait_seconds}s" >&2 ||
            fail "$workload in eleanor-secrets did not get Ready within ${wait_seconds}s: $(k -n eleanor-secrets get pods -o wide 2>&1)"
    done
    k -n eleanor-cache rollout status statefulset/redis-sentinel --timeout="${wait_seconds}s" >&2 ||
        fail "statefulset/redis-sentinel in eleanor-cache did not get Ready within ${wait_seconds}s: $(k -n eleanor-cache get pods -o wide 2>&1)"
    k -n eleanor-vector wait --for=condition=Complete job/weaviate-schema --timeout="${wait_seconds}s" >&2 ||
        fail "job/weaviate-schema did not complete: $(k -n eleanor-vector logs job/weaviate-schema --tail=20 2>&1)"
    say "every workload Ready $(fmt_duration "$(($(date +%s) - deploy_start))") after the apply"
    # Healthy as users see it: /health through the NodePort published on the host.
    python3 - "$health_url" "$wait_seconds" <<'HEALTH' >&2 || fail "$health_url did not say healthy within ${wait_seconds}s"
import json, sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
last = "no answer"
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            body = json.load(answer)
        if body.get("status") == "healthy":
            sys.exit(0)
        last = json.dumps(body)[:300]
    except (OSError, ValueError) as error:
        last = str(error)
    time.sleep(0.5)
print(f"last answer: {last}")
sys.exit(1)
HEALTH
    say "$health_url healthy $(fmt_duration "$(($(date +%s) - deploy_start))") after the apply"
    (
        umask 077
        printf 'ELEANOR_JWT_SECRET=%s\nELEANOR_EVIDENCE_DSN=%s\n' "$DRILLBOOK_KIND_JWT" \
            "postgresql://eleanor:$DRILLBOOK_KIND_DB_PASSWORD@127.0.0.1:15432/eleanor_v8" >"$drill_env"
        printf 'ELEANOR_LLM_API_KEY=%s\nOPENBAO_ROOT_TOKEN=%s\n' "$DRILLBOOK_KIND_LLM_KEY" \
            "$DRILLBOOK_KIND_BAO_TOKEN" >>"$drill_env"
    )
    say "the drills' secrets (ELEANOR_JWT_SECRET, ELEANOR_EVIDENCE_DSN, ELEANOR_LLM_API_KEY, OPENBAO_ROOT_TOKEN): set -a; . $drill_env; set +a"
fi
say "ready $(fmt_duration "$(($(date +%s) - start))") after the start"
printf '%s\n' "$kubeconfig"
