#!/bin/bash
# A Redis data node behind Sentinel, in a container with a restart policy.
#
# Its role comes from the Sentinels when they answer (a restarted node follows the master they
# name), else from REDIS_REPLICA_OF (the first start of the project: empty for the master).
# Nothing is persisted (a cache), so a node that crashed comes back EMPTY: if it came back as
# the master the Sentinels still name, its replica would resync the empty data set, and the
# engine restarts a crashed container faster than Sentinel judges it down (down-after 3 s), so
# no failover would ever happen. Redis's replication docs warn about exactly that (persistence
# off plus automatic restarts). Such a node therefore holds back, not serving, until the
# Sentinels have promoted another node (at most REDIS_HOLD_SECONDS), then joins it as a replica.
set -u

me="${REDIS_NODE_ADDRESS:?REDIS_NODE_ADDRESS, the static IP of this node, is not set}"
port=6379
master_name="${REDIS_MASTER_NAME:-mymaster}"
hold_seconds="${REDIS_HOLD_SECONDS:-60}"

# "ip:port" of the master the first answering Sentinel names; empty when none answers.
sentinels_master() {
    local sentinel host answer
    for sentinel in ${REDIS_SENTINELS:-}; do
        host="${sentinel%:*}"
        mapfile -t answer < <(timeout 1 redis-cli -h "$host" -p "${sentinel##*:}" --raw \
            SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null)
        if [[ ${#answer[@]} -ge 2 && -n "${answer[0]}" && -n "${answer[1]}" ]]; then
            printf '%s:%s\n' "${answer[0]}" "${answer[1]}"
            return
        fi
    done
}

master="$(sentinels_master)"
if [[ "$master" == "$me:$port" ]]; then
    echo "redis-node: the Sentinels still name this node ($me) the master; holding back until they fail over (at most ${hold_seconds}s)" >&2
    deadline=$((SECONDS + hold_seconds))
    while [[ "$master" == "$me:$port" && $SECONDS -lt $deadline ]]; do
        sleep 0.5
        master="$(sentinels_master)"
    done
fi

args=(--port "$port" --bind 0.0.0.0 --protected-mode no --save "" --appendonly no --dir /var/lib/redis
      --repl-diskless-sync-delay 0)
if [[ -n "$master" && "$master" != "$me:$port" ]]; then
    echo "redis-node: starting as a replica of $master (named by the Sentinels)" >&2
    args+=(--replicaof "${master%:*}" "${master##*:}")
elif [[ -z "$master" && -n "${REDIS_REPLICA_OF:-}" ]]; then
    echo "redis-node: no Sentinel answers; starting as a replica of $REDIS_REPLICA_OF" >&2
    args+=(--replicaof "${REDIS_REPLICA_OF%:*}" "${REDIS_REPLICA_OF##*:}")
else
    echo "redis-node: starting as the master" >&2
fi
exec redis-server "${args[@]}"
