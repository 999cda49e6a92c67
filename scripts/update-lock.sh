#!/usr/bin/env bash
# Renew requirements/lock.txt: the exact versions scripts/setup.sh installs into .venv.
#
# Resolves drillbook[dev] afresh (the newest versions the ranges in pyproject.toml allow) in a
# throwaway virtualenv, with no constraints but the python-dateutil<3 hint, and writes what it
# got (`pip freeze --exclude-editable`, plus pip's own version) as the lock. Run it after
# changing the dependencies in pyproject.toml, or to take newer releases; then run the tests
# (`bash scripts/test.sh`, whose set-up reinstalls .venv from the new lock) and commit the lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lock="requirements/lock.txt"
python="${PYTHON:-python3}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/drillbook-lock.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "update-lock: resolving drillbook[dev] afresh in a throwaway virtualenv ($scratch)" >&2
"$python" -m venv "$scratch/venv"
pip=("$scratch/venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
# python-dateutil<3 spares pip minutes of backtracking between kubernetes and botocore.
"${pip[@]}" install -q -e ".[dev]" "python-dateutil<3"

mkdir -p "$(dirname "$lock")"
{
    echo "# The exact versions scripts/setup.sh installs (pip install -c $lock -e \".[dev]\")."
    echo "# Written by scripts/update-lock.sh with $("$scratch/venv/bin/python" --version); do not edit by hand."
    echo "pip==$("$scratch/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pip"))')"
    "${pip[@]}" freeze --exclude-editable | grep -viE '^drillbook(==| @ )'
} >"$lock.tmp"
mv -f "$lock.tmp" "$lock"

if git diff --quiet -- "$lock" 2>/dev/null; then
    echo "update-lock: $lock is unchanged" >&2
else
    echo "update-lock: $lock changed:" >&2
    git diff --no-color -U0 -- "$lock" | grep -E '^[-+][^-+]' >&2 || true
fi
echo "update-lock: next, run the tests with these versions: bash scripts/test.sh" >&2
