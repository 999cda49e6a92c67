"""How an HTTP probe classifies an answer, and what a failed sample says about it.

The probe runs for real against the embedded stack in every drill (tests/integration); here the
classification rules are pinned down on answers copied from the reference service and HAProxy.
"""

from __future__ import annotations

import json

from drillbook.config.conditions import parse_condition
from drillbook.config.model import HttpProbe
from drillbook.core.answer_reasons import explain_body
from drillbook.core.timeline import SampleStatus
from drillbook.probes.http import classify_response

HEALTH = HttpProbe(
    name="health",
    path="/health",
    conditions=(parse_condition('status == "healthy"', key="conditions", source="test"),),
)
# HAProxy's own answer when no replica is in rotation.
NO_SERVER = (
    b"<html><body><h1>503 Service Unavailable</h1>\n"
    b"No server is available to handle this request.\n</body></html>\n"
)


def test_an_unexpected_status_names_the_replica_and_its_reasons() -> None:
    body = json.dumps(
        {
            "status": "unhealthy",
            "replica": "app-1",
            "checks": {"database": "error"},
            "errors": {"database": "no answer within 0.5 s"},
        }
    ).encode()
    status, detail = classify_response(HEALTH, 503, body)
    assert status is SampleStatus.DOWN
    assert detail == (
        'HTTP 503, expected [200]: replica app-1; errors: {"database": "no answer within 0.5 s"}'
    )


def test_a_proxy_page_tells_a_routing_gap_from_a_failing_replica() -> None:
    status, detail = classify_response(HEALTH, 503, NO_SERVER)
    assert status is SampleStatus.DOWN
    assert detail.endswith("503 Service Unavailable No server is available to handle this request.")


def test_fastapi_detail_and_empty_bodies() -> None:
    assert classify_response(HEALTH, 401, b'{"detail": "invalid token"}')[1] == (
        'HTTP 401, expected [200]: detail: "invalid token"'
    )
    assert classify_response(HEALTH, 502, b"")[1] == "HTTP 502, expected [200]"


def test_long_answers_are_shortened() -> None:
    assert len(explain_body(b"x" * 10_000)) == 160
    assert len(explain_body(json.dumps({"errors": "y" * 10_000}).encode())) == 160
    assert explain_body(b"[1, 2]") == "[1, 2]"


def test_expected_status_is_judged_by_the_conditions_and_429_by_nothing() -> None:
    assert classify_response(HEALTH, 200, b'{"status": "healthy"}') == (SampleStatus.OK, "")
    status, detail = classify_response(HEALTH, 200, b'{"status": "degraded"}')
    assert status is SampleStatus.DOWN and "degraded" in detail
    assert classify_response(HEALTH, 429, b"slow down")[0] is SampleStatus.THROTTLED
