#!/bin/sh
# First start on an empty volume: initdb, listen on the container's network, create the
# service's role and database. Then PostgreSQL runs as the container's PID 1 (exec), so that
# `docker stop` (SIGINT: fast shutdown) and `docker kill` reach it directly.
#
# Continuous WAL archiving, as on drillbook's embedded stack (drillbook.stack.services.postgres):
# every finished segment is copied into the archive volume mounted at $WAL_ARCHIVE, in a folder
# named after the cluster's system identifier. A restore from a dump initializes a new cluster,
# whose segment names start over: in a folder of its own its archiving never collides with the
# old cluster's segments (which would stall it for good), and a point-in-time recovery reads
# the folder of its base backup's cluster. The copy goes to a hidden name and is renamed into
# place: a server killed mid-copy leaves no truncated segment under a segment's name.
# A point-in-time recovery (drillbook.backup.compose_pitr) leaves its settings beside
# recovery.signal, one name=value a line: passed to the server while recovery.signal is there,
# so that the service's own container finishes a recovery whose runner died. Extra arguments
# are passed to the server too.
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
        # On stdin, not -c: psql interpolates :'pw' (quoted as a literal, so the password never
        # sits in the command line or the SQL text) only in what it reads as a script.
        printf '%s\n' "CREATE ROLE \"$POSTGRES_USER\" LOGIN PASSWORD :'pw';" |
            psql -U postgres -v ON_ERROR_STOP=1 -q -v pw="$POSTGRES_PASSWORD"
    else
        psql -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE ROLE \"$POSTGRES_USER\" LOGIN"
    fi
    psql -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
# Base backups (pg_basebackup through the published port) need a replication connection from
# outside the container; initdb allows those from 127.0.0.1 only. Kept in an older volume too.
grep -q '^host replication all 0.0.0.0/0 ' "$PGDATA/pg_hba.conf" \
    || echo "host replication all 0.0.0.0/0 $POSTGRES_HOST_AUTH" >>"$PGDATA/pg_hba.conf"
: "${WAL_ARCHIVE:=/var/lib/postgresql/wal-archive}"
cluster=$(pg_controldata "$PGDATA" | sed -n 's/^Database system identifier: *//p')
# No identifier: the control file is unreadable, and the server will refuse to start anyway.
archive="$WAL_ARCHIVE/${cluster:-unknown-cluster}"
mkdir -p "$archive"
if [ -f "$PGDATA/recovery.signal" ] && [ -f "$PGDATA/drillbook-recovery.settings" ]; then
    while IFS= read -r setting; do
        if [ -n "$setting" ]; then set -- "$@" -c "$setting"; fi
    done <"$PGDATA/drillbook-recovery.settings"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' \
    -c archive_mode=on \
    -c "archive_command=test ! -f $archive/%f && cp %p $archive/.partial-copy-%f && mv $archive/.partial-copy-%f $archive/%f" \
    "$@"
