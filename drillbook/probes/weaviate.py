"""Weaviate seen directly (REST), beside the service's own view of it through `/health`.

The drill needs both: what users see (the front door), and what is really in the vector store
(objects by id, counts), because a cache or a stale answer can make the first look better than
the second.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from drillbook.core.clock import Clock
from drillbook.core.timeline import Sample, SampleStatus


class WeaviateProbe:
    """Read-only questions to one Weaviate, each bounded by `timeout_seconds`."""

    def __init__(self, url: str, *, timeout_seconds: float = 2.0, name: str = "weaviate") -> None:
        self.url = url.rstrip("/")
        self.name = name
        self._timeout = timeout_seconds

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=self._timeout)

    def ready(self) -> bool:
        """GET /v1/.well-known/ready answers 200."""
        try:
            with self._client() as client:
                return client.get("/v1/.well-known/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def collection_exists(self, collection: str) -> bool:
        with self._client() as client:
            return client.get(f"/v1/schema/{collection}").status_code == 200

    def count(self, collection: str) -> int:
        """Objects in the collection (an Aggregate query over all of them)."""
        query = {"query": f"{{Aggregate{{{collection}{{meta{{count}}}}}}}}"}
        with self._client() as client:
            response = client.post("/v1/graphql", json=query)
        response.raise_for_status()
        document = response.json()
        if document.get("errors"):
            raise httpx.HTTPError(f"Aggregate on {collection}: {document['errors']}")
        return int(document["data"]["Aggregate"][collection][0]["meta"]["count"])

    def existing(self, collection: str, object_ids: Iterable[str]) -> set[str]:
        """Which of these object ids exist in the collection (HEAD per object)."""
        found: set[str] = set()
        with self._client() as client:
            for object_id in object_ids:
                response = client.head(f"/v1/objects/{collection}/{object_id}")
                if response.status_code == 204:
                    found.add(object_id)
                elif response.status_code != 404:
                    response.raise_for_status()
        return found

    def sample(self, clock: Clock) -> Sample:
        """One readiness observation, classified like an HTTP probe."""
        sent = clock.monotonic()
        try:
            with self._client() as client:
                response = client.get("/v1/.well-known/ready")
        except httpx.HTTPError as exc:
            return Sample(
                probe=self.name,
                sent_at=sent,
                received_at=clock.monotonic(),
                status=SampleStatus.ERROR,
                detail=f"{type(exc).__name__}: {exc}"[:300],
            )
        ok = response.status_code == 200
        return Sample(
            probe=self.name,
            sent_at=sent,
            received_at=clock.monotonic(),
            status=SampleStatus.OK if ok else SampleStatus.DOWN,
            http_status=response.status_code,
            detail="" if ok else f"HTTP {response.status_code} from /v1/.well-known/ready",
        )
