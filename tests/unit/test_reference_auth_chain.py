"""Unit tests of the reference service's pure parts: JWT tokens, hash chain, rate limiter.

No servers: everything here runs in-process in milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from typing import Any

import jwt
import pytest

from eleanor_reference.auth import (
    AuthError,
    bearer_token,
    issue_token,
    verify_token,
)
from eleanor_reference.evidence import (
    GENESIS_HASH,
    canonical_json,
    payload_hash,
    record_hash,
    verify_chain,
)
from eleanor_reference.metrics import (
    GROUND_TRUTH_LOG_PREFIX,
    GroundTruth,
    ServiceMetrics,
)
from eleanor_reference.ratelimit import FixedWindowRateLimiter
from eleanor_reference.settings import Settings, SettingsError

SECRET = "unit-test-secret-" + "s" * 64  # long enough for HS512 too
OTHER_SECRET = "another-secret-that-is-also-at-least-32-bytes!!"


# ----------------------------------------------------------------------------------- auth


def test_issued_token_verifies_with_its_claims() -> None:
    token = issue_token(SECRET, subject="prober", roles=("operator",), scopes=["deliberate"])
    principal = verify_token(token, SECRET)
    assert principal.subject == "prober"
    assert principal.roles == ("operator",)
    assert principal.scopes == ("deliberate",)
    assert principal.expires_at > time.time()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert set(claims) >= {"sub", "exp", "iat", "roles", "scopes"}


def test_expired_token_is_rejected() -> None:
    token = issue_token(SECRET, ttl_seconds=-10)
    with pytest.raises(AuthError, match="expired"):
        verify_token(token, SECRET)


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = issue_token(OTHER_SECRET)
    with pytest.raises(AuthError, match="signature"):
        verify_token(token, SECRET)


def test_garbage_and_wrong_algorithm_are_rejected_without_leaking_the_token() -> None:
    with pytest.raises(AuthError) as excinfo:
        verify_token("not-a-jwt", SECRET)
    assert "not-a-jwt" not in str(excinfo.value)
    token = issue_token(SECRET, algorithm="HS512")
    with pytest.raises(AuthError, match="HS256"):
        verify_token(token, SECRET, algorithm="HS256")
    assert verify_token(token, SECRET, algorithm="HS512").subject == "drillbook"


def test_token_without_subject_is_rejected() -> None:
    token = jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="sub"):
        verify_token(token, SECRET)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   xyz ") == "xyz"
    for bad in (None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "):
        with pytest.raises(AuthError):
            bearer_token(bad)


def test_issue_token_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        issue_token("")


# ----------------------------------------------------------------------------- hash chain


def _chain(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for index, payload in enumerate(payloads):
        trace_id = f"trace-{index}"
        p_hash = payload_hash(payload)
        r_hash = record_hash(trace_id, p_hash, prev)
        records.append(
            {
                "trace_id": trace_id,
                "payload": payload,
                "payload_hash": p_hash,
                "prev_hash": prev,
                "record_hash": r_hash,
            }
        )
        prev = r_hash
    return records


def test_canonical_json_is_key_order_independent_and_compact() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    b = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":"\\u00e9","y":[1,2]},"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_chain_functions_are_deterministic_and_match_the_documented_formula() -> None:
    payload = {"input": "hello", "context": {"k": 1}}
    expected_payload = hashlib.sha256(b'{"context":{"k":1},"input":"hello"}').hexdigest()
    assert payload_hash(payload) == payload_hash(dict(reversed(payload.items())))
    assert payload_hash(payload) == expected_payload
    linked = canonical_json(
        {"trace_id": "t1", "payload_hash": expected_payload, "prev_hash": GENESIS_HASH}
    )
    assert record_hash("t1", expected_payload, GENESIS_HASH) == (
        hashlib.sha256(linked.encode()).hexdigest()
    )
    assert GENESIS_HASH == "0" * 64
    assert record_hash("t1", expected_payload, GENESIS_HASH) != record_hash(
        "t2", expected_payload, GENESIS_HASH
    )


def test_intact_chain_verifies() -> None:
    assert verify_chain(_chain([{"n": i} for i in range(5)])) == []
    assert verify_chain([]) == []


def test_tampered_payload_changes_the_hash_and_is_detected() -> None:
    records = _chain([{"input": f"request {i}", "decision": "allow"} for i in range(4)])
    original = payload_hash(records[2]["payload"])
    records[2]["payload"] = {"input": "request 2", "decision": "deny"}
    assert payload_hash(records[2]["payload"]) != original
    problems = verify_chain(records)
    assert len(problems) == 1
    assert "trace-2" in problems[0]
    assert "altered" in problems[0]


def test_removed_or_reordered_records_break_the_links() -> None:
    records = _chain([{"n": i} for i in range(4)])
    assert any("prev_hash" in p for p in verify_chain(records[:1] + records[2:]))
    assert verify_chain([records[1], records[0], *records[2:]]) != []
    # A segment verifies when told where it starts.
    assert verify_chain(records[2:], expected_first_prev=records[1]["record_hash"]) == []


def test_rewritten_hashes_are_detected() -> None:
    records = _chain([{"n": i} for i in range(3)])
    records[1]["record_hash"] = "f" * 64
    problems = verify_chain(records)
    assert any("record_hash" in p for p in problems)
    assert any("trace-2" in p for p in problems)  # the next link no longer matches


# ------------------------------------------------------------------- rate limit, metrics


def test_fixed_window_rate_limiter() -> None:
    now = [100.0]
    limiter = FixedWindowRateLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.hit("a").allowed
    assert limiter.hit("a").allowed
    refused = limiter.hit("a")
    assert not refused.allowed
    assert refused.retry_after_seconds == 10
    assert limiter.hit("b").allowed  # per key
    now[0] = 110.5  # next window
    assert limiter.hit("a").allowed
    assert FixedWindowRateLimiter(0, 1.0).hit("a").allowed  # disabled


def test_ground_truth_ignores_livez_and_logs_once() -> None:
    stream = io.StringIO()
    clock = iter([10.0, 12.5])
    truth = GroundTruth(
        "app-9", stream=stream, monotonic=lambda: next(clock), wallclock=lambda: 1e9
    )
    metrics = ServiceMetrics(truth)
    assert "eleanor_first_served_request_monotonic_seconds NaN" in metrics.render()
    assert truth.mark_served("/livez") is None
    assert stream.getvalue() == ""
    first = truth.mark_served("/health")
    assert first is not None and first.monotonic == 12.5
    assert truth.mark_served("/metrics") is None
    lines = stream.getvalue().splitlines()
    assert lines == [
        f"{GROUND_TRUTH_LOG_PREFIX} replica=app-9 pid={truth.pid} monotonic=12.500000 "
        "unixtime=1000000000.000000 path=/health"
    ]
    assert "eleanor_first_served_request_monotonic_seconds 12.5" in metrics.render()


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "ELEANOR_DATABASE_URL": "postgresql://eleanor@127.0.0.1:5999/eleanor_v8",
            "JWT_SECRET": SECRET,
            "AUTH_ENABLED": "false",
            "ELEANOR_REPLICA": "app-1",
            "ELEANOR_RATE_LIMIT": "3",
        }
    )
    assert settings.auth_enabled is False
    assert settings.rate_limit == 3
    assert settings.rate_window_seconds == 60.0
    assert settings.version == "8.0.0-reference"
    assert SECRET not in repr(settings)
    with pytest.raises(SettingsError, match="ELEANOR_RATE_LIMIT"):
        Settings.from_env({"ELEANOR_RATE_LIMIT": "lots"})
    with pytest.raises(SettingsError, match="AUTH_ENABLED"):
        Settings.from_env({"AUTH_ENABLED": "maybe"})
