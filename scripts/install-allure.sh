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
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/allure-version.txt")"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "install-allure: $here/allure-version.txt must hold a version like 3.18.0, found '$version'" >&2
    exit 2
fi

cache="${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}"
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
        echo "install-allure: '$tool' not found; install Node.js 20 or newer (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
done

if [[ -x "$bin" && "$(installed_version "$target")" == "$version" ]]; then
    echo "install-allure: allure $version already installed in $target" >&2
    echo "$bin"
    exit 0
fi

# Install into a scratch folder next to the target and move it into place at the end, so an
# interrupted install never leaves a half-filled folder that looks installed.
mkdir -p "$cache/npm"
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
