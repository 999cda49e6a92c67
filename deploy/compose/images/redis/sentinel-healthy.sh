#!/bin/bash
# Healthy: the Sentinel knows the master, both other Sentinels and at least one replica (what a
# failover needs; the embedded stack waits for the same before its first drill).
set -eu
info="$(redis-cli -p 26379 --raw SENTINEL master "${REDIS_MASTER_NAME:-mymaster}")"
field() { printf '%s\n' "$info" | awk -v k="$1" 'found { print; exit } $0 == k { found = 1 }'; }
[[ "$(field num-other-sentinels)" -ge 2 && "$(field num-slaves)" -ge 1 ]]
