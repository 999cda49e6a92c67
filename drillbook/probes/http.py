"""HTTP probes: one request, classified as ok, down, throttled or error.

The status code alone is not trusted: a real ELEANOR V8 answers /health with 200 while degraded,
so a probe is ok only when the code is expected *and* every JSON condition holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from drillbook.config.model import HttpProbe
from drillbook.core.answer_reasons import explain_body
from drillbook.core.clock import Clock
from drillbook.core.timeline import Sample, SampleStatus
from drillbook.probes.auth import TokenProvider
from drillbook.probes.health_fields import health_fields

_THROTTLED = 429


def classify_response(probe: HttpProbe, status_code: int, body: bytes) -> tuple[SampleStatus, str]:
    """Classify an answer; returns the status and, when not ok, why."""
    if status_code == _THROTTLED:
        return SampleStatus.THROTTLED, "HTTP 429 (rate limited)"
    if status_code not in probe.expect_status:
        said = explain_body(body)
        return SampleStatus.DOWN, (
            f"HTTP {status_code}, expected {list(probe.expect_status)}"
            + (f": {said}" if said else "")
        )
    if not probe.conditions:
        return SampleStatus.OK, ""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return SampleStatus.DOWN, "body is not JSON, but the probe has JSON conditions"
    failed = [c.explain(document) for c in probe.conditions if not c.evaluate(document)]
    if failed:
        return SampleStatus.DOWN, "; ".join(failed)
    return SampleStatus.OK, ""


class HttpProber:
    """Sends one probe's request against a base URL and turns the outcome into a Sample."""

    def __init__(
        self,
        base_url: str,
        probe: HttpProbe,
        *,
        timeout_seconds: float,
        headers: Mapping[str, str] | None = None,
        tokens: TokenProvider | None = None,
        client: httpx.Client | None = None,
        keep_fields: bool = False,
    ) -> None:
        self.probe = probe
        # A health probe's samples keep what the body said (drillbook.probes.health_fields);
        # an end-to-end call's answer is the service's data, not a statement about itself.
        self._keep_fields = keep_fields
        self._url = base_url.rstrip("/") + probe.path
        self._headers = dict(headers or {})
        self._tokens = tokens
        # A fresh connection per request would hide keep-alive problems but also costs a
        # handshake; pooling mirrors what real clients of the service do.
        self._client = client or httpx.Client(timeout=timeout_seconds)
        self._owns_client = client is None

    def request(self) -> httpx.Response:
        headers = dict(self._headers)
        if self.probe.auth and self._tokens is not None:
            headers.update(self._tokens.headers())
        return self._client.request(
            self.probe.method, self._url, headers=headers, json=self.probe.json_body
        )

    def sample(self, clock: Clock) -> Sample:
        sent = clock.monotonic()
        try:
            response = self.request()
        except httpx.HTTPError as exc:
            return Sample(
                probe=self.probe.name,
                sent_at=sent,
                received_at=clock.monotonic(),
                status=SampleStatus.ERROR,
                detail=f"{type(exc).__name__}: {exc}"[:300],
            )
        status, detail = classify_response(self.probe, response.status_code, response.content)
        return Sample(
            probe=self.probe.name,
            sent_at=sent,
            received_at=clock.monotonic(),
            status=status,
            http_status=response.status_code,
            detail=detail,
            fields=health_fields(response.content) if self._keep_fields else None,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
