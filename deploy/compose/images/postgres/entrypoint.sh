#!/bin/sh
# First start on an empty volume: initdb, listen on the container's network, create the
# service's role and database. Then PostgreSQL runs as the container's PID 1 (exec), so that
# `docker stop` (SIGINT: fast shutdown) and `docker kill` reach it directly.
#
# Authentication is `trust`, as on drillbook's embedded stack: the server is reachable only on
# the Compose project's own network and on 127.0.0.1 (docker-compose.yaml). A deployment that
# is not a drill target on one machine sets a password (POSTGRES_HOST_AUTH=scram-sha-256 and
# POSTGRES_PASSWORD).
set -eu
: "${POSTGRES_DB:=eleanor_v8}"
: "${POSTGRES_USER:=eleanor}"
: "${POSTGRES_HOST_AUTH:=trust}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH" -E UTF8 >/dev/null
    echo "host all all 0.0.0.0/0 $POSTGRES_HOST_AUTH" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        psql -U postgres -v ON_ERROR_STOP=1 -q -v pw="$POSTGRES_PASSWORD" \
            -c "CREATE ROLE \"$POSTGRES_USER\" LOGIN PASSWORD :'pw'"
    else
        psql -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE ROLE \"$POSTGRES_USER\" LOGIN"
    fi
    psql -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
