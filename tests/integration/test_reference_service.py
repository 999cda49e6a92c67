"""Integration tests of the reference ELEANOR-like service against real Postgres and Redis.

A module-scoped fixture builds a throw-away stack on loopback: a fresh PostgreSQL 15 cluster
(initdb + postgres run as user `postgres`), a Redis without persistence, and uvicorn replicas
of the service. Everything is torn down by PID in a finalizer that also runs when setup fails.
Needs root (to run Postgres as user `postgres`), the PostgreSQL 15 binaries and redis-server.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import redis

from eleanor_reference.auth import issue_token
from eleanor_reference.evidence import (
    GENESIS_HASH,
    payload_hash,
    record_hash,
    verify_chain,
)
from eleanor_reference.metrics import GROUND_TRUTH_LOG_PREFIX

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET = "integration-test-secret-" + "x" * 40
REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


# ------------------------------------------------------------------------------ the stack


def _requirements_missing() -> str | None:
    if not (PG_BIN / "postgres").exists() or not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 binaries not found in {PG_BIN}"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if os.geteuid() != 0:
        return "must run as root to start PostgreSQL as user postgres"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "system user 'postgres' does not exist"
    return None


_used_ports: set[int] = set()


def _free_port() -> int:
    """A free loopback TCP port in 20000-32000 (found by binding it, not by port 0)."""
    for _ in range(500):
        port = random.randint(20000, 32000)
        if port in _used_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port found in 20000-32000")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Signal one process we started, wait, then kill it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result is not None:
                return result
        except Exception as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout:g} s (last error: {last!r})")


@dataclass
class Replica:
    """One uvicorn process of the service."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@dataclass
class Stack:
    """Postgres, Redis and the replicas of one test module."""

    root: Path
    pg_port: int = field(default_factory=_free_port)
    redis_port: int = field(default_factory=_free_port)
    postgres: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None
    replicas: dict[str, Replica] = field(default_factory=dict)
    logs: list[Any] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "pgsock"

    @property
    def database_url(self) -> str:
        return f"postgresql://eleanor@127.0.0.1:{self.pg_port}/eleanor_v8"

    def _log(self, name: str) -> Any:
        handle = (self.root / name).open("ab")
        self.logs.append(handle)
        return handle

    def init_postgres(self) -> None:
        pg = pwd.getpwnam("postgres")
        for directory in (self.data_dir, self.socket_dir):
            directory.mkdir(mode=0o700)
            os.chown(directory, pg.pw_uid, pg.pw_gid)
        subprocess.run(
            [
                "runuser", "-u", "postgres", "--",
                str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
            ],
            check=True,
            cwd=self.root,
            stdout=self._log("initdb.log"),
            stderr=subprocess.STDOUT,
            timeout=60,
        )  # fmt: skip

    def start_postgres(self) -> None:
        pg = pwd.getpwnam("postgres")
        self.postgres = subprocess.Popen(
            [
                str(PG_BIN / "postgres"), "-D", str(self.data_dir), "-p", str(self.pg_port),
                "-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1",
            ],
            user=pg.pw_uid,
            group=pg.pw_gid,
            extra_groups=[],
            cwd=self.root,
            stdout=self._log("postgres.log"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        def ready() -> bool:
            with psycopg.connect(
                host="127.0.0.1", port=self.pg_port, user="postgres", dbname="postgres",
                connect_timeout=2,
            ):  # fmt: skip
                return True

        _wait_for("postgres", ready)

    def stop_postgres(self) -> None:
        """Immediate shutdown (SIGQUIT): like a crash, recovery replays WAL at restart."""
        _stop(self.postgres, signal.SIGQUIT)
        self.postgres = None

    def create_database(self) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.pg_port, user="postgres", dbname="postgres",
            autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute("CREATE ROLE eleanor LOGIN")
            conn.execute("CREATE DATABASE eleanor_v8 OWNER eleanor")

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
            ],
            cwd=self.root,
            stdout=self._log("redis.log"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=1)
        _wait_for("redis", lambda: client.ping() or None)
        client.close()

    def stop_redis(self) -> None:
        _stop(self.redis)
        self.redis = None

    def start_replica(self, name: str, **env: str) -> Replica:
        """Start a replica; its readiness is probed on /livez only (not a served request)."""
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ELEANOR_", "JWT_", "AUTH_"))
        }
        environ.update(
            {
                "ELEANOR_DATABASE_URL": self.database_url,
                "ELEANOR_CACHE__REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "JWT_SECRET": SECRET,
                "ELEANOR_REPLICA": name,
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        port = _free_port()
        stderr_path = self.root / f"{name}.stderr.log"
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "eleanor_reference.app:app",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            ],
            env=environ,
            cwd=REPO_ROOT,
            stdout=self._log(f"{name}.stdout.log"),
            stderr=self._log(f"{name}.stderr.log"),
        )  # fmt: skip
        replica = Replica(name, port, proc, stderr_path)
        self.replicas[name] = replica
        return replica

    def wait_live(self, replica: Replica) -> None:
        def live() -> bool | None:
            if replica.proc.poll() is not None:
                raise RuntimeError(f"{replica.name} exited:\n{replica.stderr()}")
            return httpx.get(f"{replica.url}/livez", timeout=1).status_code == 200 or None

        try:
            _wait_for(f"replica {replica.name}", live, timeout=20)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{replica.stderr()}") from None

    def teardown(self) -> None:
        for replica in self.replicas.values():
            _stop(replica.proc)
        self.stop_redis()
        _stop(self.postgres, signal.SIGINT)  # fast shutdown
        for handle in self.logs:
            handle.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    missing = _requirements_missing()
    if missing:
        pytest.skip(missing)
    root = Path(tempfile.mkdtemp(prefix="drillbook-refsvc-", dir="/tmp"))
    root.chmod(0o755)  # user postgres must traverse it
    env = Stack(root)
    try:
        env.init_postgres()
        env.start_postgres()
        env.create_database()
        env.start_redis()
        env.start_replica("app-0")
        env.start_replica("app-1")
        env.start_replica("app-rl", ELEANOR_RATE_LIMIT="3", ELEANOR_RATE_WINDOW_SECONDS="3600")
        env.start_replica("app-gt")
        for replica in list(env.replicas.values()):
            env.wait_live(replica)
        yield env
    finally:
        env.teardown()
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------- helpers


def _auth(secret: str = SECRET, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, **kwargs)}"}


def _deliberate(replica: Replica, text: str, trace_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"input": text, "context": {"test": True}, "trace_id": trace_id}
    return httpx.post(f"{replica.url}/deliberate", json=body, headers=_auth(), timeout=10)


def _chain_rows(stack: Stack) -> list[dict[str, Any]]:
    with psycopg.connect(stack.database_url, row_factory=psycopg.rows.dict_row) as conn:
        cur = conn.execute(
            "SELECT id, trace_id, payload, payload_hash, prev_hash, record_hash"
            " FROM evidence_records ORDER BY id"
        )
        return cur.fetchall()


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


# --------------------------------------------------------------------------------- tests


def test_ground_truth_recorded_by_first_served_request_not_by_livez(stack: Stack) -> None:
    gt = stack.replicas["app-gt"]
    for _ in range(3):
        assert httpx.get(f"{gt.url}/livez", timeout=2).json() == {"status": "alive"}
    time.sleep(0.2)
    assert GROUND_TRUTH_LOG_PREFIX not in gt.stderr()

    before = time.monotonic()
    first = httpx.get(f"{gt.url}/health", timeout=3)
    after = time.monotonic()
    assert first.status_code == 200
    # The mark is taken as the first response starts, so that response cannot show it yet.
    assert first.json()["process"]["first_served_monotonic"] is None

    lines = [line for line in gt.stderr().splitlines() if line.startswith(GROUND_TRUTH_LOG_PREFIX)]
    assert len(lines) == 1, gt.stderr()
    fields = dict(item.split("=", 1) for item in lines[0].split()[2:])
    assert fields["replica"] == "app-gt"
    assert fields["path"] == "/health"
    assert int(fields["pid"]) == gt.proc.pid == first.json()["process"]["pid"]
    logged = float(fields["monotonic"])
    assert before <= logged <= after  # CLOCK_MONOTONIC is system-wide
    assert abs(float(fields["unixtime"]) - time.time()) < 30

    second = httpx.get(f"{gt.url}/health", timeout=3).json()
    assert abs(second["process"]["first_served_monotonic"] - logged) < 1e-5
    metrics = httpx.get(f"{gt.url}/metrics", timeout=3).text
    assert abs(_metric(metrics, "eleanor_first_served_request_monotonic_seconds") - logged) < 1e-5
    assert not math.isnan(_metric(metrics, "eleanor_first_served_request_unixtime_seconds"))
    assert sum(line.startswith(GROUND_TRUTH_LOG_PREFIX) for line in gt.stderr().splitlines()) == 1


def test_health_is_healthy_on_every_replica(stack: Stack) -> None:
    for name in ("app-0", "app-1"):
        response = httpx.get(f"{stack.replicas[name].url}/health", timeout=3)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy"
        assert body["replica"] == name
        assert body["version"] == "8.0.0-reference"
        assert body["checks"] == {
            "api": "ok",
            "database": "ok",
            "cache": "ok",
            "secrets": "ok",
            # This stack runs no Weaviate (PRECEDENT_BACKEND unset): reported, not an error.
            "precedent_store": "not_configured",
        }
        assert isinstance(body["timestamp"], float)


def test_concurrent_deliberations_from_two_replicas_form_one_chain(stack: Stack) -> None:
    replicas = [stack.replicas["app-0"], stack.replicas["app-1"]]
    jobs = [(replicas[i % 2], f"concurrent request {i}", f"chain-{i}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda job: _deliberate(*job), jobs))
    for response in responses:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["final_decision"] == "allow"
        assert body["is_degraded"] is False and body["degraded_components"] == []
    acked = {r.json()["trace_id"]: r.json() for r in responses}
    assert len({body["sequence"] for body in acked.values()}) == 20

    rows = _chain_rows(stack)
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert verify_chain(rows) == []
    for previous, current in itertools.pairwise(rows):
        assert current["prev_hash"] == previous["record_hash"]
    for row in rows:
        assert row["payload_hash"] == payload_hash(row["payload"])
        assert row["record_hash"] == record_hash(
            row["trace_id"], row["payload_hash"], row["prev_hash"]
        )
    by_trace = {row["trace_id"]: row for row in rows}
    for trace_id, body in acked.items():
        assert by_trace[trace_id]["record_hash"] == body["record_hash"]
        assert by_trace[trace_id]["id"] == body["sequence"]
    assert {by_trace[t]["payload"]["replica"] for t in acked} == {"app-0", "app-1"}


def test_audit_trace_returns_the_record_and_404_for_unknown(stack: Stack) -> None:
    created = _deliberate(stack.replicas["app-0"], "audit me", "audit-1").json()
    other = stack.replicas["app-1"]

    cached = httpx.get(f"{other.url}/audit/trace/audit-1", headers=_auth(), timeout=3)
    assert cached.status_code == 200
    assert cached.headers["X-Eleanor-Source"] == "cache"
    direct = httpx.get(
        f"{other.url}/audit/trace/audit-1",
        params={"source": "database"},
        headers=_auth(),
        timeout=3,
    )
    assert direct.headers["X-Eleanor-Source"] == "database"
    for response in (cached, direct):
        record = response.json()
        assert record["trace_id"] == "audit-1"
        assert record["record_hash"] == created["record_hash"]
        assert record["payload"]["input"] == "audit me"
        assert record["payload_hash"] == payload_hash(record["payload"])
        assert record["record_hash"] == record_hash(
            "audit-1", record["payload_hash"], record["prev_hash"]
        )
        assert record["created_at"].startswith("20")

    # Replaying the same trace is idempotent; reusing it for another input is a conflict.
    replay = _deliberate(stack.replicas["app-1"], "audit me", "audit-1")
    assert replay.status_code == 200 and replay.json()["record_hash"] == created["record_hash"]
    assert _deliberate(stack.replicas["app-1"], "something else", "audit-1").status_code == 409

    missing = httpx.get(f"{other.url}/audit/trace/no-such-trace", headers=_auth(), timeout=3)
    assert missing.status_code == 404
    assert missing.json() == {"error": "not found", "trace_id": "no-such-trace"}


def test_protected_endpoints_require_a_valid_token(stack: Stack) -> None:
    app = stack.replicas["app-0"]
    body = {"input": "no token", "context": {}}
    attempts: list[dict[str, str]] = [
        {},
        _auth("a-different-secret-that-is-long-enough-for-hs256-xxxxxxxx"),
        _auth(ttl_seconds=-60),
        {"Authorization": "Bearer not-a-token"},
    ]
    for headers in attempts:
        response = httpx.post(f"{app.url}/deliberate", json=body, headers=headers, timeout=3)
        assert response.status_code == 401, response.text
        error = response.json()
        assert error["error"] and error["trace_id"]
        assert SECRET not in response.text
    unauth = httpx.get(f"{app.url}/audit/trace/audit-1", timeout=3)
    assert unauth.status_code == 401
    assert unauth.json()["error"] == "missing bearer token"
    for path in ("/health", "/livez", "/metrics"):
        assert httpx.get(f"{app.url}{path}", timeout=3).status_code == 200


def test_rate_limit_answers_429_with_retry_after(stack: Stack) -> None:
    limited = stack.replicas["app-rl"]
    # Each source address is its own client: the readiness probe (127.0.0.1) spent nothing here.
    client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=3)
    neighbour = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"), timeout=3)
    with client, neighbour:
        statuses = [client.get(f"{limited.url}/health").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = client.get(f"{limited.url}/health")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"] == "rate limit exceeded"
        assert neighbour.get(f"{limited.url}/livez").status_code == 200
    # The default limit is high: the main replicas are not throttled.
    assert httpx.get(f"{stack.replicas['app-0'].url}/livez", timeout=3).status_code == 200


def test_postgres_outage_then_recovery_without_restarting_the_service(stack: Stack) -> None:
    replicas = [stack.replicas["app-0"], stack.replicas["app-1"]]
    acked = [_deliberate(replicas[0], "before outage", "pg-before").json()["record_hash"]]
    late: Replica | None = None
    stack.stop_postgres()
    try:
        for replica in replicas:
            started = time.monotonic()
            response = httpx.get(f"{replica.url}/health", timeout=5)
            assert time.monotonic() - started < 2.0  # each check is bounded
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unhealthy"
            assert body["checks"]["database"] == "error"
            assert body["checks"]["api"] == "ok"
            failed = _deliberate(replica, "during outage", f"pg-down-{replica.name}")
            assert failed.status_code == 503
            assert failed.json()["error"] == "database unavailable"
            assert failed.json()["trace_id"] == f"pg-down-{replica.name}"
            assert httpx.get(f"{replica.url}/livez", timeout=3).status_code == 200
        metrics = httpx.get(f"{replicas[0].url}/metrics", timeout=3).text
        assert _metric(metrics, 'eleanor_dependency_failures_total{dependency="database"}') > 0
        # A replica started while the database is down still starts and answers /health, but
        # takes no traffic until it has reached its database once (warm_up.py); the replicas
        # that reached it before stay ready: users see the outage as the 503 it is.
        late = stack.start_replica("app-late")
        stack.wait_live(late)
        assert httpx.get(f"{late.url}/health", timeout=3).status_code == 503
        not_ready = httpx.get(f"{late.url}/readyz", timeout=3)
        assert not_ready.status_code == 503, not_ready.text
        assert "database has not been reached yet" in not_ready.json()["reason"]
        assert [httpx.get(f"{r.url}/readyz", timeout=3).status_code for r in replicas] == [200, 200]
    finally:
        if stack.postgres is None:
            stack.start_postgres()

    def healthy(replica: Replica) -> bool | None:
        return httpx.get(f"{replica.url}/health", timeout=3).status_code == 200 or None

    assert late is not None
    _wait_for(
        "app-late ready once the database answers",
        lambda: httpx.get(f"{late.url}/readyz", timeout=3).status_code == 200 or None,
    )
    for replica in [*replicas, late]:
        _wait_for(f"{replica.name} healthy again", functools.partial(healthy, replica))
        after = _deliberate(replica, "after recovery", f"pg-after-{replica.name}")
        assert after.status_code == 200, after.text
        acked.append(after.json()["record_hash"])
    rows = _chain_rows(stack)
    assert verify_chain(rows) == []
    stored = {row["record_hash"] for row in rows}
    assert all(h in stored for h in acked)
    assert not any(row["trace_id"].startswith("pg-down-") for row in rows)


def test_redis_outage_degrades_but_keeps_serving(stack: Stack) -> None:
    app = stack.replicas["app-1"]
    stack.stop_redis()
    try:
        response = httpx.get(f"{app.url}/health", timeout=5)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"] == {
            "api": "ok",
            "database": "ok",
            "cache": "error",
            "secrets": "ok",
            "precedent_store": "not_configured",
        }
        result = _deliberate(app, "cache is down", "redis-down")
        assert result.status_code == 200, result.text
        assert result.json()["degraded_components"] == ["cache"]
        assert result.json()["is_degraded"] is True
        audit = httpx.get(f"{app.url}/audit/trace/redis-down", headers=_auth(), timeout=5)
        assert audit.status_code == 200
        assert audit.headers["X-Eleanor-Source"] == "database"
        metrics = httpx.get(f"{app.url}/metrics", timeout=3).text
        assert _metric(metrics, 'eleanor_dependency_failures_total{dependency="cache"}') > 0
        assert _metric(metrics, "eleanor_degraded_components") >= 1
    finally:
        if stack.redis is None:
            stack.start_redis()
    _wait_for(
        "cache check ok again",
        lambda: httpx.get(f"{app.url}/health", timeout=3).json()["status"] == "healthy" or None,
    )
    assert json.loads(httpx.get(f"{app.url}/health", timeout=3).text)["checks"]["cache"] == "ok"
