"""Benchmark: what synchronous replication to the DR site costs a write, on two real sites.

    .venv/bin/python benchmarks/bench_replication.py [--commits 300] [--subnet 10.215.0.0/24]

Builds one two-site deployment (asynchronous, as the [sites] default), then times the same
writes in the same process, three ways, each `--commits` times:

- async: a commit waits for the primary's own flush only;
- sync: a commit waits until the DR site's standby has flushed it too (synchronous_standby_names
  set to the standby, as `[sites] replication = "sync"` does);
- what users see: POST /deliberate through the front door (evidence written by the service),
  in each mode.

Prints the median and the 95th percentile of each, and the sync/async ratios. The deployment
is removed afterwards. Needs root (network namespaces).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import httpx
import psycopg

from drillbook.config.loader import load_config
from drillbook.probes.auth import TokenProvider
from drillbook.sites.deployment import TwoSites, enable_synchronous, start_two_sites
from drillbook.sites.services import STANDBY_NAME
from drillbook.stack.services.postgres import admin_dsn


def _timings(action: Callable[[], object], count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def _commit_timings(deployment: TwoSites, count: int) -> list[float]:
    primary = deployment.primary
    dsn = admin_dsn(primary.require_stack().port("postgres"))

    def run() -> list[float]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id serial, at timestamptz)")
            return _timings(
                lambda: conn.execute("INSERT INTO bench_commit (at) VALUES (now())"), count
            )

    return primary.run(run)


def _user_timings(deployment: TwoSites, count: int) -> list[float]:
    view = deployment.users_view()
    config = view.configure(deployment.config)
    tokens = TokenProvider(config.target.auth, secret=view.jwt_secret)
    with httpx.Client(base_url=view.base_url, timeout=10.0) as client:

        def write() -> None:
            response = client.post(
                "/deliberate",
                json={"input": "benchmark", "trace_id": f"bench-{time.monotonic_ns()}"},
                headers=tokens.headers(),
            )
            response.raise_for_status()

        return _timings(write, count)


def _disable_synchronous(deployment: TwoSites) -> None:
    dsn = admin_dsn(deployment.primary.require_stack().port("postgres"))

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("SELECT pg_reload_conf()")

    deployment.primary.run(run)


def _row(name: str, seconds: list[float]) -> tuple[str, float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    print(
        f"{name:<34} median {median * 1000:8.3f} ms   p95 {p95 * 1000:8.3f} ms   n={len(seconds)}"
    )
    return name, median, p95


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--subnet", default="10.215.0.0/24")
    args = parser.parse_args(argv)
    config = load_config(
        None, overrides={"sites.replication": "async", "sites.subnet": args.subnet}
    )
    started = time.monotonic()
    deployment = start_two_sites(config)
    print(f"two sites up in {time.monotonic() - started:.1f}s")
    try:
        _commit_timings(deployment, 20)  # warm-up: connections, the table, the caches
        async_commit = _row("commit, async", _commit_timings(deployment, args.commits))
        async_user = _row("POST /deliberate, async", _user_timings(deployment, args.commits))
        enable_synchronous(deployment.primary, STANDBY_NAME)
        sync_commit = _row("commit, sync (DR flush)", _commit_timings(deployment, args.commits))
        sync_user = _row("POST /deliberate, sync", _user_timings(deployment, args.commits))
        _disable_synchronous(deployment)
        again = _row("commit, async again (drift check)", _commit_timings(deployment, args.commits))
        print(
            f"sync/async ratio: commit median x{sync_commit[1] / async_commit[1]:.2f} "
            f"(p95 x{sync_commit[2] / async_commit[2]:.2f}); POST /deliberate median "
            f"x{sync_user[1] / async_user[1]:.2f} (p95 x{sync_user[2] / async_user[2]:.2f}); "
            f"async drift x{again[1] / async_commit[1]:.2f}"
        )
    finally:
        deployment.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
