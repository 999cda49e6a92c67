"""PostgreSQL replication between the sites: its state, promotion, and catching up.

Every call runs inside the site's namespace (drillbook.sites.namespace), where the site's
PostgreSQL listens on 127.0.0.1, so the admin connection never crosses the front door.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from drillbook.errors import RecoveryTimeout, StackError
from drillbook.sites.deployment import Site, TwoSites
from drillbook.stack.services.postgres import admin_dsn

_CONNECT_SECONDS = 2


def _query(site: Site, sql: str, *params: object) -> list[tuple[Any, ...]]:
    stack = site.require_stack()
    dsn = admin_dsn(stack.port("postgres"))

    def run() -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=_CONNECT_SECONDS) as conn:
            cursor = conn.execute(sql, params or None)
            return list(cursor.fetchall()) if cursor.description is not None else []

    return site.run(run)


def replication_status(deployment: TwoSites) -> dict[str, Any]:
    """The primary's view of each standby now (the DR site's, the off-site WAL receiver's):
    state, sync or async, and how far behind it is (WAL bytes it has not flushed yet, and
    PostgreSQL's flush lag: the time its last flush confirmation took)."""
    primary = deployment.primary
    if primary.stack is None:
        return {"state": "primary lost"}
    try:
        rows = _query(
            primary,
            "SELECT application_name, state, sync_state, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint, "
            "EXTRACT(EPOCH FROM flush_lag)::float8 FROM pg_stat_replication",
        )
    except psycopg.Error as exc:
        return {"state": f"unknown ({str(exc).strip().splitlines()[0]})"}
    if not rows:
        return {"state": "no standby connected"}
    return {
        str(name): {
            "state": state,
            "sync_state": sync,
            # Flushed, not replayed: what survives the primary's loss (the off-site receiver
            # never replays, and a standby replays what it has flushed before promotion).
            "unflushed_bytes": int(lag_bytes or 0),
            "flush_lag_seconds": None if lag_seconds is None else round(float(lag_seconds), 4),
        }
        for name, state, sync, lag_bytes, lag_seconds in rows
    }


def in_recovery(site: Site) -> bool:
    return bool(_query(site, "SELECT pg_is_in_recovery()")[0][0])


def timeline(site: Site) -> int:
    return int(_query(site, "SELECT timeline_id FROM pg_control_checkpoint()")[0][0])


def promote(site: Site, *, timeout: float) -> dict[str, Any]:
    """pg_promote() on the site's standby: it stops replaying and starts a new timeline."""
    if not in_recovery(site):
        raise StackError(f"the database at site {site.name} is not a standby: nothing to promote")
    replayed = _query(site, "SELECT pg_last_wal_replay_lsn()::text")[0][0]
    started = time.monotonic()
    done = _query(site, "SELECT pg_promote(true, %s)", max(1, int(timeout)))[0][0]
    if not done:
        raise RecoveryTimeout(
            f"the database at site {site.name} did not finish promotion within {timeout:.0f}s"
        )
    # The new timeline is in the control file once the end-of-recovery checkpoint is written.
    _query(site, "CHECKPOINT")
    return {
        "replayed_up_to_lsn": replayed,
        "promoted_in_seconds": round(time.monotonic() - started, 4),
        "new_timeline": timeline(site),
    }


def wait_caught_up(primary: Site, standby: Site, *, timeout: float) -> dict[str, Any]:
    """Wait until the standby has replayed everything the primary has written now."""
    target = _query(primary, "SELECT pg_current_wal_lsn()::text")[0][0]
    started = time.monotonic()
    deadline = started + timeout
    while True:
        replayed = _query(standby, "SELECT pg_last_wal_replay_lsn()::text")[0][0]
        behind = _query(primary, "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", target, replayed)
        if replayed is not None and float(behind[0][0]) <= 0:
            return {"caught_up_to_lsn": target, "seconds": round(time.monotonic() - started, 4)}
        if time.monotonic() >= deadline:
            raise RecoveryTimeout(
                f"the standby at site {standby.name} had replayed up to {replayed} after "
                f"{timeout:.0f}s, short of the primary's {target}"
            )
        time.sleep(0.1)
