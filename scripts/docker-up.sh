#!/usr/bin/env bash
# Make a Docker engine answer on this machine, for the Docker platform and its tests; idempotent.
#
#   bash scripts/docker-up.sh
#
#   1. `docker info` answers already (any engine: yours, Docker Desktop, a remote DOCKER_HOST):
#      nothing is started.
#   2. No `dockerd`: Debian's docker.io is installed with apt-get (about a minute; as root, or
#      through sudo).
#   3. `dockerd` is started in the background (there is no systemd here) with its pid and log in
#      ${DRILLBOOK_CACHE:-~/.cache/drillbook}/docker/ (dockerd.pid, dockerd.log); then this
#      waits until `docker info` answers (a few seconds; at most DRILLBOOK_DOCKER_WAIT, 60 s).
#      Only a daemon started here is stopped by scripts/docker-down.sh (by that pid file).
#      Then "started" is printed on stdout (all else goes to stderr).
#   4. The `docker compose` CLI plugin is built when missing (scripts/docker-build-compose.sh).
set -euo pipefail
# shellcheck source=build-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-lib.sh"

STATE="$(drillbook_cache)/docker"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
WAIT="${DRILLBOOK_DOCKER_WAIT:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# dockerd, iptables and the apt tools live in /usr/sbin, not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "docker-up: $*" >&2; }
fail() {
    say "$*"
    exit 1
}

# Not root: through sudo (it asks, or fails with its own message).
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)

engine_answers() { docker info >/dev/null 2>&1; }

if engine_answers; then
    say "a Docker engine answers already ($(docker info --format '{{.ServerVersion}}' 2>/dev/null)); none started"
else
    if ! command -v dockerd >/dev/null 2>&1; then
        say "no dockerd: installing Debian's docker.io (apt-get, about a minute)"
        "${sudo_cmd[@]}" apt-get update -qq ||
            fail "apt-get update failed; install docker.io yourself (apt-get install docker.io) and run again"
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq docker.io >/dev/null ||
            fail "apt-get install docker.io failed; install it yourself and run again"
        # The package may start its own daemon through its init script; the daemon this script
        # starts is the one it records, so that docker-down.sh stops exactly what was started.
        "${sudo_cmd[@]}" service docker stop >/dev/null 2>&1 || true
    fi
    if engine_answers; then
        say "a Docker engine answers (started by the package); none started"
    else
        if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            say "dockerd $(cat "$PIDFILE") (started earlier by this script) is running but not answering yet"
        else
            mkdir -p "$STATE"
            say "starting dockerd in the background (log: $LOG)"
            # setsid: the daemon outlives this script and its terminal; its own process group
            # means a Ctrl-C of whatever runs next does not reach it.
            "${sudo_cmd[@]}" setsid dockerd >"$LOG" 2>&1 </dev/null &
            echo $! >"$PIDFILE"
        fi
        deadline=$(($(date +%s) + WAIT))
        until engine_answers; do
            if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
                rm -f "$PIDFILE"
                fail "dockerd exited at start; the last lines of $LOG: $(tail -n 5 "$LOG" | tr '\n' ' ')"
            fi
            (($(date +%s) < deadline)) ||
                fail "dockerd (pid $(cat "$PIDFILE")) did not answer within ${WAIT}s; see $LOG"
            sleep 0.5
        done
        # On stdout, for callers that stop what they started (scripts/test.sh).
        echo started
        say "dockerd $(cat "$PIDFILE") answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null), $(docker info --format '{{.Driver}}' 2>/dev/null))"
    fi
fi

bash "$here/docker-build-compose.sh"
