#!/usr/bin/env bash
# Build the Weaviate server the embedded stack runs, once, from the Go module proxy, into
# drillbook's cache outside the repository, keyed by version:
#
#   ${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/weaviate-<version>/bin/weaviate-server
#
# Idempotent: a second run with the same version and patch returns at once. A cold build takes
# about 5.5 minutes on 2 cores (measured here); it runs under `nice` so the machine stays usable,
# prints a line every 30 s while it runs, and records its wall time in
# ${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/build-times.txt.
#
# A build that stops midway (failed, killed) leaves nothing a later run takes for finished: the
# old binary and stamp go first, the binary is written under a partial name and renamed, and
# the stamp is written last.
#
# One small patch is applied to a private copy of the released source (the Go module cache is
# never modified): Weaviate v1.39 binds its public gRPC port and its cluster data port on every
# interface (`net.Listen("tcp", ":PORT")`) with no setting to change it, and `go build -overlay`
# refuses files in the module cache. The embedded stack must stay on loopback, so those listeners
# are made to honour CLUSTER_BIND_ADDR, which the other internal listeners (gossip, raft) already
# use. Unset, the address is empty and the behaviour is upstream's.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

VERSION="${WEAVIATE_VERSION:-v1.39.0}"
CACHE="$(drillbook_cache)"
DEST="$CACHE/weaviate-$VERSION"
BIN="$DEST/bin/weaviate-server"
MODULE="github.com/weaviate/weaviate"
PATCH_ID="bind-addr-1"
TIMES="$CACHE/build-times.txt"
TYPICAL="takes about 5.5 min on 2 cores"

fail() {
    echo "build-weaviate: $*" >&2
    exit 1
}

if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] && export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 ||
    fail "'go' not found; install Go 1.21 or newer (it fetches the toolchain Weaviate's go.mod asks for) and run again"

stamp="$DEST/build.stamp"
want="$VERSION $PATCH_ID"
if [[ -x "$BIN" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "build-weaviate: $BIN ($want) already built" >&2
    exit 0
fi

note="$(build_note "$TIMES" weaviate "$TYPICAL")"
echo "build-weaviate: building weaviate $VERSION into $DEST/bin ($note)" >&2
start="$(date +%s)"
mkdir -p "$DEST/bin"
# What another version or patch left goes first: neither may outlive a build that stops midway.
rm -f "$stamp" "$BIN"

# Outside any module or workspace, so nothing local changes what is downloaded.
cd /
src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$src" && -d "$src" ]] || fail "could not download $MODULE@$VERSION from the Go module proxy"
work="$DEST/src"
# A copy left by a run that stopped midway has the module cache's read-only folders.
if [[ -e "$work" ]]; then
    chmod -R u+w "$work"
    rm -rf "$work"
fi
cp -R "$src" "$work"
chmod -R u+w "$work"
# patch FILE SED-EXPRESSION EXPECTED: the patched file must contain EXPECTED exactly once, or
# the upstream source changed and the patch must be revisited (never build half-patched).
patch() {
    local file="$1" expr="$2" expected="$3" count
    sed -i "$expr" "$work/$file"
    count="$(grep -cF -- "$expected" "$work/$file" || true)"
    [[ "$count" == 1 ]] || fail "patch of $file did not apply (found '$expected' $count times); $MODULE@$VERSION differs from what this script knows"
}
patch adapters/handlers/grpc/server.go \
    's|net.Listen("tcp", fmt.Sprintf(":%d",|net.Listen("tcp", fmt.Sprintf("%s:%d", state.ServerConfig.Config.Cluster.BindAddr,|' \
    'fmt.Sprintf("%s:%d", state.ServerConfig.Config.Cluster.BindAddr,'
patch adapters/handlers/rest/clusterapi/grpc/server.go \
    's|net.Listen("tcp", fmt.Sprintf(":%d",|net.Listen("tcp", fmt.Sprintf("%s:%d", s.state.ServerConfig.Config.Cluster.BindAddr,|' \
    'fmt.Sprintf("%s:%d", s.state.ServerConfig.Config.Cluster.BindAddr,'
patch adapters/handlers/rest/clusterapi/serve.go \
    's|Addr:      fmt.Sprintf(":%d", port),|Addr:      fmt.Sprintf("%s:%d", appState.ServerConfig.Config.Cluster.BindAddr, port),|' \
    'fmt.Sprintf("%s:%d", appState.ServerConfig.Config.Cluster.BindAddr, port)'

rm -rf "$DEST/bin.partial"
mkdir -p "$DEST/bin.partial"
cd "$work"
# CGO off: Weaviate needs no cgo, and a static binary does not depend on this machine's libc.
# -trimpath keeps the build cache valid wherever the cache directory lives.
with_heartbeat build-weaviate "building weaviate" "$note" \
    nice -n 10 env CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false \
    go build -trimpath -o "$DEST/bin.partial/weaviate-server" ./cmd/weaviate-server
[[ -x "$DEST/bin.partial/weaviate-server" ]] || fail "go build finished but produced no weaviate-server"
mv -f "$DEST/bin.partial/weaviate-server" "$BIN"
rmdir "$DEST/bin.partial"
# The source copy is only needed to build; the stamp says which version and patch the binary
# is, and is written last (whole, then renamed).
cd /
rm -rf "$work"
echo "$want" >"$stamp.partial"
mv -f "$stamp.partial" "$stamp"
seconds="$(($(date +%s) - start))"
record_build_time "$TIMES" weaviate "$VERSION" "$seconds"
echo "build-weaviate: built $BIN in $(fmt_duration "$seconds")" >&2
