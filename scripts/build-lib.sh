# Shared by the Go build scripts (build-weaviate.sh, build-k8s.sh); sourced, not run.
#
#   drillbook_cache                 the cache root as an absolute path (a relative
#                                   DRILLBOOK_CACHE is taken from the current directory)
#   fmt_duration SECONDS            "5m32s"
#   last_build_time FILE NAME       the wall time of NAME's last recorded build ("332s"), or nothing
#   record_build_time FILE NAME VERSION SECONDS
#   build_note FILE NAME TYPICAL    "last build took 5m32s", or when none is recorded in FILE,
#                                   "no build recorded here; a cold one TYPICAL"
#   with_heartbeat PREFIX WHAT NOTE COMMAND...
#                                   run COMMAND in the foreground, printing "PREFIX: still WHAT:
#                                   2m30s elapsed, NOTE" on stderr every
#                                   DRILLBOOK_HEARTBEAT_SECONDS (30) seconds while it runs
#
# Sourcing it sets an EXIT trap (stop_heartbeat): a script with an EXIT trap of its own calls
# stop_heartbeat from it.
#
# The build times live in ${DRILLBOOK_CACHE:-~/.cache/drillbook}/build-times.txt, one line per
# build: NAME VERSION SECONDSs WHEN (UTC).

drillbook_cache() {
    local cache="${DRILLBOOK_CACHE:-$HOME/.cache/drillbook}"
    [[ "$cache" == /* ]] || cache="$PWD/$cache"
    printf '%s\n' "$cache"
}

fmt_duration() {
    local s="$1"
    printf '%dm%02ds\n' "$((s / 60))" "$((s % 60))"
}

last_build_time() {
    local file="$1" name="$2" seconds
    [[ -f "$file" ]] || return 0
    # The newest line for NAME (any version: a version bump rebuilds about as long).
    seconds="$(awk -v n="$name" '$1 == n { t = $3 } END { print t }' "$file")"
    seconds="${seconds%s}"
    [[ "$seconds" =~ ^[0-9]+$ ]] && fmt_duration "$seconds"
    return 0
}

record_build_time() {
    local file="$1" name="$2" version="$3" seconds="$4"
    mkdir -p "$(dirname "$file")"
    printf '%s %s %ss %s\n' "$name" "$version" "$seconds" "$(date -u +%FT%TZ)" >>"$file"
}

build_note() {
    local file="$1" name="$2" typical="$3" last
    last="$(last_build_time "$file" "$name")"
    if [[ -n "$last" ]]; then
        echo "last build took $last"
    else
        echo "no build recorded here; a cold one $typical"
    fi
}

# The heartbeat of the build running now (stopped when the script exits, however it exits).
heartbeat_pid=""
stop_heartbeat() {
    if [[ -n "$heartbeat_pid" ]]; then
        kill "$heartbeat_pid" 2>/dev/null || true
        wait "$heartbeat_pid" 2>/dev/null || true
        heartbeat_pid=""
    fi
}
trap stop_heartbeat EXIT

# Call it as a plain statement (not in `if`, `&&` or `||`), so that `set -e` stops the script
# when COMMAND fails; COMMAND may be a function.
with_heartbeat() {
    local prefix="$1" what="$2" note="$3"
    shift 3
    local every="${DRILLBOOK_HEARTBEAT_SECONDS:-30}" start parent="$$"
    start="$(date +%s)"
    # The heartbeat runs beside the command, which stays in the foreground (Ctrl-C reaches it).
    # It stops when told, or by itself once this script is gone (killed). Its sleep holds none
    # of the script's output streams, so a reader of them is not kept waiting.
    (
        while sleep "$every" </dev/null >/dev/null 2>&1 && kill -0 "$parent" 2>/dev/null; do
            echo "$prefix: still $what: $(fmt_duration "$(($(date +%s) - start))") elapsed, $note" >&2
        done
    ) </dev/null >/dev/null &
    heartbeat_pid=$!
    "$@"
    stop_heartbeat
}
