#!/usr/bin/env bash
# Build the Weaviate server the embedded stack runs, once, from the Go module proxy, into
# drillbook's cache outside the repository, keyed by version:
#
#   ${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/weaviate-<version>/bin/weaviate-server
#
# Idempotent: a second run with the same version and patch returns at once. A cold build takes
# about 5.5 minutes on 2 cores (measured here); it runs under `nice` so the machine stays usable.
#
# One small patch is applied to a private copy of the released source (the Go module cache is
# never modified): Weaviate v1.39 binds its public gRPC port and its cluster data port on every
# interface (`net.Listen("tcp", ":PORT")`) with no setting to change it, and `go build -overlay`
# refuses files in the module cache. The embedded stack must stay on loopback, so those listeners
# are made to honour CLUSTER_BIND_ADDR, which the other internal listeners (gossip, raft) already
# use. Unset, the address is empty and the behaviour is upstream's.
set -euo pipefail

VERSION="${WEAVIATE_VERSION:-v1.39.0}"
CACHE="${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}"
DEST="$CACHE/weaviate-$VERSION"
BIN="$DEST/bin/weaviate-server"
MODULE="github.com/weaviate/weaviate"
PATCH_ID="bind-addr-1"

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

# Outside any module or workspace, so nothing local changes what is downloaded.
cd /
src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$src" && -d "$src" ]] || fail "could not download $MODULE@$VERSION from the Go module proxy"
work="$DEST/src"
mkdir -p "$DEST"
rm -rf "$work"
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

echo "build-weaviate: building $MODULE/cmd/weaviate-server $VERSION into $DEST/bin (several minutes when cold)" >&2
rm -rf "$DEST/bin.partial"
mkdir -p "$DEST/bin.partial" "$DEST/bin"
cd "$work"
# CGO off: Weaviate needs no cgo, and a static binary does not depend on this machine's libc.
# -trimpath keeps the build cache valid wherever the cache directory lives.
time nice -n 10 env CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false \
    go build -trimpath -o "$DEST/bin.partial/weaviate-server" ./cmd/weaviate-server
[[ -x "$DEST/bin.partial/weaviate-server" ]] || fail "go build finished but produced no weaviate-server"
mv -f "$DEST/bin.partial/weaviate-server" "$BIN"
rmdir "$DEST/bin.partial"
# The source copy is only needed to build; the stamp says which version and patch the binary is.
rm -rf "$work"
echo "$want" >"$stamp"
echo "build-weaviate: built $BIN" >&2
