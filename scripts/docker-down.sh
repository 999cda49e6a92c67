#!/usr/bin/env bash
# Stop the Docker daemon scripts/docker-up.sh started, and only that one (by its pid file in
# ${DRILLBOOK_CACHE:-~/.cache/drillbook}/docker/dockerd.pid); an engine started otherwise is
# left alone. Idempotent. Containers keep their state in the daemon's data root
# (/var/lib/docker): images built by scripts/build-images.sh stay for the next start.
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

PIDFILE="$(drillbook_cache)/docker/dockerd.pid"
WAIT="${DRILLBOOK_DOCKER_WAIT:-60}"

if [[ ! -f "$PIDFILE" ]]; then
    echo "docker-down: no daemon started by docker-up.sh; nothing stopped" >&2
    exit 0
fi
pid="$(cat "$PIDFILE")"
# The pid must still be that dockerd (a pid file outliving a reboot may name another process).
if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
    echo "docker-down: dockerd $pid is not running; pid file removed" >&2
    rm -f "$PIDFILE"
    exit 0
fi
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
echo "docker-down: stopping dockerd $pid (SIGTERM; it stops its containers first)" >&2
"${sudo_cmd[@]}" kill -TERM "$pid"
deadline=$(($(date +%s) + WAIT))
while [[ -e "/proc/$pid" ]]; do
    if (($(date +%s) >= deadline)); then
        echo "docker-down: dockerd $pid still running after ${WAIT}s; see $(dirname "$PIDFILE")/dockerd.log" >&2
        exit 1
    fi
    sleep 0.2
done
rm -f "$PIDFILE"
echo "docker-down: dockerd $pid stopped" >&2
