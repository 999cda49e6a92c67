#!/bin/bash
# A Redis Sentinel of the reference project: monitors REDIS_MASTER_NAME at REDIS_INITIAL_MASTER
# (quorum 2, down-after 3 s, failover-timeout 9 s: the embedded stack's settings, see
# drillbook/stack/services/redis.py for why 3 s). Its peers and the replica are written in
# beforehand (`known-*` lines, as Sentinel writes them itself; each Sentinel's id is derived from
# its address) so that a fresh project need not wait for hello messages and the master's INFO.
# The file is written once: Sentinel rewrites it after a failover, and a restarted Sentinel
# keeps what it learned, as the embedded stack's do.
set -eu

conf=/var/lib/redis/sentinel.conf
me="${SENTINEL_ADDRESS:?SENTINEL_ADDRESS, the static IP of this Sentinel, is not set}"
master_name="${REDIS_MASTER_NAME:-mymaster}"
down_after="${SENTINEL_DOWN_AFTER_MILLISECONDS:-3000}"

sentinel_id() { printf 'drillbook-sentinel-%s' "$1" | sha1sum | cut -c1-40; }

if [[ ! -s "$conf" ]]; then
    {
        echo "port 26379"
        echo "bind 0.0.0.0"
        echo "protected-mode no"
        echo "daemonize no"
        echo "dir /var/lib/redis"
        echo "sentinel myid $(sentinel_id "$me")"
        echo "sentinel announce-ip $me"
        echo "sentinel monitor $master_name ${REDIS_INITIAL_MASTER%:*} ${REDIS_INITIAL_MASTER##*:} 2"
        echo "sentinel down-after-milliseconds $master_name $down_after"
        echo "sentinel failover-timeout $master_name $((3 * down_after))"
        echo "sentinel parallel-syncs $master_name 1"
        for replica in ${REDIS_REPLICAS:-}; do
            echo "sentinel known-replica $master_name ${replica%:*} ${replica##*:}"
        done
        for peer in ${SENTINEL_PEERS:-}; do
            echo "sentinel known-sentinel $master_name $peer 26379 $(sentinel_id "$peer")"
        done
    } >"$conf"
fi
exec redis-sentinel "$conf"
