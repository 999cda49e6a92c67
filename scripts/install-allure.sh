#!/usr/bin/env bash
# Install the pinned Allure Report 3 CLI (npm package `allure`) into drillbook's cache.
#
# Allure Report 3 renders the drills' HTML report (drillbook/reporting/html_report.py). The
# version lives in scripts/allure-version.txt, the one place both this script and the Python
# code read it from, so bumping it there is all an upgrade takes.
#
# Installs into ${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}/npm/allure-<version>/ and prints the
# path of the `allure` binary on stdout (progress goes to stderr). Idempotent: when that
# version is already installed, nothing is downloaded.
#
# Node.js: allure itself declares no "engines", but the packages it installs do: chokidar 5 and
# readdirp 5 (through @allurereport/directory-watcher) need Node >= 20.19.0, and glob 13's
# lru-cache 11 and brace-expansion 5 need "20 || >=22". So allure 3.18.0 needs Node.js 20.19 or
# newer, not 21. Debian 12's nodejs package is 18, too old. When bumping allure-version.txt,
# check again: `npm view allure@VERSION engines`, then the "engines" of the installed tree
# (e.g. `grep -rh '"node":' $target/node_modules/*/package.json | sort | uniq -c`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/allure-version.txt")"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "install-allure: $here/allure-version.txt must hold a version like 3.18.0, found '$version'" >&2
    exit 2
fi

node_min="20.19.0"     # the oldest Node.js allure (see above) runs on; 21 is excluded too

cache="${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}"
[[ "$cache" == /* ]] || cache="$PWD/$cache"
target="$cache/npm/allure-$version"
bin="$target/node_modules/.bin/allure"

installed_version() {
    # The version recorded in the installed package, empty when missing or unreadable.
    local manifest="$1/node_modules/allure/package.json"
    [[ -f "$manifest" ]] || return 0
    node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$manifest" 2>/dev/null || true
}

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-allure: '$tool' not found; install Node.js $node_min or newer with npm: apt-get install nodejs npm, then, if \`node --version\` is older than v$node_min (Debian 12's is 18), npm install -g node@22" >&2
        exit 1
    fi
done

# node_supported VERSION: true for 20.19+ and 22+ (allure's dependencies exclude 21).
node_supported() {
    local v="${1#v}" major minor
    major="${v%%.*}"
    minor="${v#*.}"
    minor="${minor%%.*}"
    [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
    ((major >= 22 || (major == 20 && minor >= 19)))
}

node_version="$(node --version 2>/dev/null || true)"
if ! node_supported "$node_version"; then
    {
        echo "install-allure: Node.js ${node_version:-(no version)} at $(command -v node) cannot run allure $version, which needs Node.js $node_min or newer (20.19+ or 22+; its dependencies do not support 21). Debian 12's nodejs package is 18."
        echo "  Install Node.js 22 from the npm registry, as root:"
        echo "      npm install -g node@22 && hash -r && node --version"
        echo "  (npm's global prefix is usually /usr/local: node lands in /usr/local/bin, ahead of /usr/bin on PATH), or without root:"
        echo "      npm install -g --prefix ~/.local node@22 && export PATH=\"\$HOME/.local/bin:\$PATH\""
        echo "  then run the set-up again."
    } >&2
    exit 1
fi

if [[ -x "$bin" && "$(installed_version "$target")" == "$version" ]]; then
    echo "install-allure: allure $version already installed in $target" >&2
    echo "$bin"
    exit 0
fi

# Install into a scratch folder next to the target and move it into place at the end, so an
# interrupted install never leaves a half-filled folder that looks installed. Scratch folders
# that a killed install left (older than an hour) go.
mkdir -p "$cache/npm"
find "$cache/npm" -maxdepth 1 -name ".allure-*" -mmin +60 -exec rm -rf {} + 2>/dev/null || true
scratch="$(mktemp -d "$cache/npm/.allure-$version.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
echo "install-allure: installing allure@$version into $target" >&2
# --prefix with a package.json of its own keeps npm from walking up to some enclosing project.
printf '{"name": "drillbook-allure", "private": true}\n' > "$scratch/package.json"
npm install --prefix "$scratch" --no-audit --no-fund --no-update-notifier --save-exact \
    "allure@$version" >&2

if [[ "$(installed_version "$scratch")" != "$version" || ! -x "$scratch/node_modules/.bin/allure" ]]; then
    echo "install-allure: npm finished but allure $version is not in $scratch/node_modules" >&2
    exit 1
fi

rm -rf "$target"
mv "$scratch" "$target"
trap - EXIT
echo "$bin"
