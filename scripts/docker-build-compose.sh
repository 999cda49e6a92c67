#!/usr/bin/env bash
# Build the Docker Compose v2 CLI plugin (`docker compose`) once, from the Go module proxy,
# into drillbook's cache outside the repository, keyed by version:
#
#   ${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/docker-compose-<version>/docker-compose
#
# and link it into ~/.docker/cli-plugins so `docker compose` finds it. Debian 12 ships only the
# old Python docker-compose 1.29 (no `docker compose`, other container names) and no image or
# download site is reachable here, so the plugin is built like Weaviate: github.com/docker/compose
# has no replace directives and needs no cgo. Idempotent: instant when built; a cold build takes
# a few minutes on 2 cores (recorded in build-times.txt). Nothing is written when the plugin is
# already installed by the system (docker-compose-plugin), unless DRILLBOOK_COMPOSE_FORCE=1.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

VERSION="${DRILLBOOK_COMPOSE_VERSION:-v2.32.4}"
CACHE="$(drillbook_cache)"
DEST="$CACHE/docker-compose-$VERSION"
BIN="$DEST/docker-compose"
TIMES="$CACHE/build-times.txt"
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

fail() {
    echo "docker-build-compose: $*" >&2
    exit 1
}

if [[ "${DRILLBOOK_COMPOSE_FORCE:-0}" != 1 ]] && docker compose version >/dev/null 2>&1 &&
    [[ "$(readlink -f "$PLUGINS/docker-compose" 2>/dev/null)" != "$BIN" ]]; then
    echo "docker-build-compose: 'docker compose' is installed already ($(docker compose version --short 2>/dev/null))" >&2
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] && export PATH="$PATH:/usr/local/go/bin"
fi

# One build at a time (docker-up.sh from two test sessions): the second waits, then finds it built.
mkdir -p "$DEST"
exec 9>"$DEST/build.lock"
flock 9
if [[ ! -x "$BIN" ]]; then
    command -v go >/dev/null 2>&1 ||
        fail "'go' not found and 'docker compose' is missing; install Go 1.22 or newer (or Docker's docker-compose-plugin) and run again"
    note="$(build_note "$TIMES" docker-compose "takes a few minutes on 2 cores")"
    echo "docker-build-compose: building docker compose $VERSION into $DEST ($note)" >&2
    start="$(date +%s)"
    mkdir -p "$DEST"
    cd /
    src="$(go mod download -json "github.com/docker/compose/v2@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$src" && -d "$src" ]] || fail "could not download github.com/docker/compose/v2@$VERSION from the Go module proxy"
    cd "$src"
    # Written under a partial name and renamed: a build that stops midway leaves no binary.
    with_heartbeat docker-build-compose "building docker compose" "$note" \
        nice -n 10 env CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false -mod=mod" \
        go build -trimpath -ldflags "-X github.com/docker/compose/v2/internal.Version=$VERSION" \
        -o "$BIN.partial" ./cmd
    mv -f "$BIN.partial" "$BIN"
    seconds="$(($(date +%s) - start))"
    record_build_time "$TIMES" docker-compose "$VERSION" "$seconds"
    echo "docker-build-compose: built $BIN in $(fmt_duration "$seconds")" >&2
fi
mkdir -p "$PLUGINS"
ln -sfn "$BIN" "$PLUGINS/docker-compose"
echo "docker-build-compose: $PLUGINS/docker-compose -> $BIN" >&2
