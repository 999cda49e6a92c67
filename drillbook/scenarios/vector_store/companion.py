"""The precedent ledger: what the vector-store drills wrote, so they can tell what came back.

A companion of the drills of scenario 4 (Vector Database Failure). Before the baseline it stores a
small corpus of known precedents, each with a query that must retrieve it first; then, all through
the drill, it writes one numbered precedent every `interval` through the front door
(`POST /precedents`) and keeps each acknowledgement outside the blast radius (in this process).
After recovery, the checks ask Weaviate which acknowledged precedents it still has: the lost ones
and the RPO follow (fault time minus the acknowledgement of the oldest lost write: how far back
before the fault the loss reaches, as the write ledger of drillbook.ledger defines it).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from drillbook.backup.weaviate import S3BackupStore, VectorStoreBackups
from drillbook.core.clock import Clock, SystemClock
from drillbook.core.companions import Attachment
from drillbook.core.contracts import COLLECTION, precedent_id
from drillbook.core.polling import poll_until
from drillbook.errors import InvalidDrill
from drillbook.probes.auth import TokenProvider
from drillbook.probes.weaviate import WeaviateProbe

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

SCENARIO = "vector-database-failure"
NAME = "precedents"
WRITE_INTERVAL_SECONDS = 0.25
MAX_WRITES = 20_000
MAX_WRITE_SECONDS = 1800.0
"""Hard bounds of the writer, whatever a drill does (it stops with the drill anyway)."""
_REQUEST_TIMEOUT_SECONDS = 2.0
_LOST_LISTED = 20


@dataclass(frozen=True)
class KnownPrecedent:
    """A precedent with the query that must find it first (words shared with no other one)."""

    key: str
    text: str
    query: str

    @property
    def object_id(self) -> str:
        return precedent_id(self.key)


CORPUS: tuple[KnownPrecedent, ...] = (
    KnownPrecedent(
        "P-001",
        "Refused to disclose a patient's medical history to an insurer without written consent.",
        "medical history insurer",
    ),
    KnownPrecedent(
        "P-002",
        "Escalated a request to transfer pension savings abroad through an unverified broker.",
        "pension savings broker abroad",
    ),
    KnownPrecedent(
        "P-003",
        "Allowed publishing anonymised traffic accident statistics for municipal road planning.",
        "traffic accident statistics",
    ),
    KnownPrecedent(
        "P-004",
        "Denied generating malware that encrypts hospital servers for ransom.",
        "malware ransom encrypts servers",
    ),
    KnownPrecedent(
        "P-005",
        "Allowed summarising a tenant's lease dispute for a housing tribunal hearing.",
        "tenant lease tribunal",
    ),
    KnownPrecedent(
        "P-006",
        "Escalated automated hiring decisions that screened applicants by postcode.",
        "hiring applicants postcode",
    ),
    KnownPrecedent(
        "P-007",
        "Denied instructions for bypassing a vehicle's emission control firmware.",
        "vehicle emission firmware",
    ),
    KnownPrecedent(
        "P-008",
        "Allowed translating vaccination schedules into regional languages for clinics.",
        "vaccination schedules languages",
    ),
)


@dataclass
class Write:
    """One numbered precedent written by the ledger."""

    seq: int
    key: str
    object_id: str
    sent_at: float
    acked_at: float | None = None
    """Monotonic time the service acknowledged it (200); None when it did not."""
    outcome: str = "pending"


@dataclass(frozen=True)
class HealthObservation:
    """What `/health` said about the precedent store at one moment (the ledger's own look)."""

    sent_at: float
    http_status: int | None
    """None when the service did not answer at all."""
    status: str | None
    precedent_store: str | None


@dataclass(frozen=True)
class StorageAssessment:
    """Which acknowledged precedents survived a fault, and the RPO that follows."""

    acked_before_fault: int
    present: int
    lost_keys: tuple[str, ...]
    rpo_seconds: float
    """0 when nothing was lost; else fault time minus the oldest lost acknowledgement."""
    oldest_lost_ack: float | None


def assess_writes(
    writes: Sequence[Write], present_ids: set[str], *, fault_at: float
) -> StorageAssessment:
    """Pure: which writes acknowledged before `fault_at` are missing, and the resulting RPO."""
    acked = [w for w in writes if w.acked_at is not None and w.acked_at <= fault_at]
    lost = [w for w in acked if w.object_id not in present_ids]
    oldest = min((w.acked_at for w in lost if w.acked_at is not None), default=None)
    return StorageAssessment(
        acked_before_fault=len(acked),
        present=len(acked) - len(lost),
        lost_keys=tuple(w.key for w in lost),
        rpo_seconds=0.0 if oldest is None else max(0.0, fault_at - oldest),
        oldest_lost_ack=oldest,
    )


class PrecedentLedger:
    """Companion: seeds the known precedents, writes numbered ones, reports what survived."""

    name = NAME

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenProvider,
        weaviate: WeaviateProbe,
        backups: VectorStoreBackups,
        interval_seconds: float = WRITE_INTERVAL_SECONDS,
        run_id: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.weaviate = weaviate
        self.backups = backups
        self.interval_seconds = interval_seconds
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.clock: Clock = SystemClock()
        self.started_at: float | None = None
        self.assessment: StorageAssessment | None = None
        self.objects_in_store: int | None = None
        self.retrieval: list[dict[str, Any]] = []
        self._writes: list[Write] = []
        self._health: list[HealthObservation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- front door --------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return self.tokens.headers() if self.tokens.enabled else {}

    def post(self, client: httpx.Client, key: str, text: str, **metadata: Any) -> httpx.Response:
        return client.post(
            f"{self.base_url}/precedents",
            json={"key": key, "text": text, "metadata": metadata},
            headers=self._headers(),
        )

    def search(self, query: str, *, limit: int = 3, source: str = "store") -> dict[str, Any]:
        """`GET /precedents/search` through the front door; raises on a non-200 answer."""
        with httpx.Client(timeout=_REQUEST_TIMEOUT_SECONDS) as client:
            response = client.get(
                f"{self.base_url}/precedents/search",
                params={"q": query, "limit": limit, "source": source},
                headers=self._headers(),
            )
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    # -- the companion -----------------------------------------------------------------------
    def start(self, drill: Drill) -> None:
        self.clock = drill.clock
        self.started_at = self.clock.monotonic()
        with httpx.Client(timeout=_REQUEST_TIMEOUT_SECONDS) as client:
            for known in CORPUS:
                response = self.post(client, known.key, known.text, corpus=True)
                if response.status_code != 200:
                    raise InvalidDrill(
                        f"could not store the known precedent {known.key} before the drill: "
                        f"HTTP {response.status_code} {response.text[:300]}; nothing was injected"
                    )
        self._stop.clear()
        self._thread = threading.Thread(target=self._write_loop, name="precedent-ledger")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, drill: Drill) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _write_loop(self) -> None:
        seq = 0
        deadline = self.clock.monotonic() + MAX_WRITE_SECONDS
        with httpx.Client(timeout=_REQUEST_TIMEOUT_SECONDS) as client:
            while (
                not self._stop.is_set() and seq < MAX_WRITES and self.clock.monotonic() < deadline
            ):
                seq += 1
                self.write(client, seq)
                self.look_at_health(client)
                self._stop.wait(self.interval_seconds)

    def look_at_health(self, client: httpx.Client) -> HealthObservation:
        """Record what `/health` says about the precedent store, whatever the probes judge."""
        sent = self.clock.monotonic()
        try:
            response = client.get(f"{self.base_url}/health")
        except httpx.HTTPError:
            observation = HealthObservation(sent, None, None, None)
        else:
            try:
                body = response.json()
            except ValueError:
                body = {}
            checks = body.get("checks") if isinstance(body, dict) else None
            observation = HealthObservation(
                sent,
                response.status_code,
                body.get("status") if isinstance(body, dict) else None,
                checks.get("precedent_store") if isinstance(checks, dict) else None,
            )
        with self._lock:
            self._health.append(observation)
        return observation

    def health_observations(self) -> list[HealthObservation]:
        with self._lock:
            return list(self._health)

    def write(self, client: httpx.Client, seq: int) -> Write:
        """Write precedent number `seq` (its words never overlap the corpus' queries)."""
        key = f"ledger-{self.run_id}-{seq}"
        entry = Write(seq=seq, key=key, object_id=precedent_id(key), sent_at=self.clock.monotonic())
        with self._lock:
            self._writes.append(entry)
        try:
            response = self.post(client, key, f"ledger record {seq} run {self.run_id}", seq=seq)
        except httpx.HTTPError as exc:
            entry.outcome = f"error: {type(exc).__name__}"
            return entry
        if response.status_code == 200:
            entry.acked_at = self.clock.monotonic()
            entry.outcome = "acked"
        else:
            entry.outcome = f"HTTP {response.status_code}"
        return entry

    def writes(self) -> list[Write]:
        with self._lock:
            return list(self._writes)

    def acked_after(self, moment: float) -> int:
        return sum(1 for w in self.writes() if w.acked_at is not None and w.acked_at > moment)

    def wait_for_acks_after(self, moment: float, count: int, *, timeout: float = 15.0) -> None:
        """Block until `count` writes were acknowledged after `moment` (bounded)."""
        poll_until(
            lambda: self.acked_after(moment),
            lambda acked: acked >= count,
            timeout=timeout,
            interval=0.05,
            give_up=lambda acked: InvalidDrill(
                f"only {acked} of {count} precedents were acknowledged "
                f"within {timeout:.0f}s; the precedent store is not taking writes, so the "
                "drill cannot measure what a fault loses. Nothing was injected."
            ),
            clock=self.clock,
        )

    def assess(self, fault_at: float) -> StorageAssessment:
        """Ask Weaviate (directly) which acknowledged precedents it still has."""
        writes = self.writes()
        present = self.weaviate.existing(COLLECTION, [w.object_id for w in writes])
        self.assessment = assess_writes(writes, present, fault_at=fault_at)
        self.objects_in_store = self.weaviate.count(COLLECTION)
        return self.assessment

    def corpus_missing(self) -> list[str]:
        present = self.weaviate.existing(COLLECTION, [k.object_id for k in CORPUS])
        return [k.key for k in CORPUS if k.object_id not in present]

    # -- report ------------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        writes = self.writes()
        figures: dict[str, Any] = {
            "known_precedents": len(CORPUS),
            "writes_attempted": len(writes),
            "writes_acked": sum(1 for w in writes if w.acked_at is not None),
            "writes_failed": sum(
                1 for w in writes if w.acked_at is None and w.outcome != "pending"
            ),
            "objects_in_store": self.objects_in_store,
        }
        if self.assessment is not None:
            figures.update(
                {
                    "precedents_acked_before_fault": self.assessment.acked_before_fault,
                    "precedents_lost": len(self.assessment.lost_keys),
                    "precedents_lost_keys": list(self.assessment.lost_keys[:_LOST_LISTED]),
                    "precedent_rpo_seconds": round(self.assessment.rpo_seconds, 3),
                }
            )
        if self.retrieval:
            figures["retrieval"] = self.retrieval
        figures.update(self.backups.figures())
        return figures

    def attachments(self) -> list[Attachment]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["seq", "key", "object_id", "sent_at", "acked_at", "outcome"])
        origin = self.started_at or 0.0
        for w in self.writes():
            writer.writerow(
                [
                    w.seq,
                    w.key,
                    w.object_id,
                    f"{w.sent_at - origin:.3f}",
                    "" if w.acked_at is None else f"{w.acked_at - origin:.3f}",
                    w.outcome,
                ]
            )
        attachments = [Attachment("precedent-ledger.csv", buffer.getvalue(), "text/csv")]
        if self.retrieval:
            attachments.append(
                Attachment(
                    "precedent-retrieval.json",
                    json.dumps(self.retrieval, indent=2),
                    "application/json",
                )
            )
        if self.assessment is not None:
            attachments.append(
                Attachment(
                    "precedents-lost.json",
                    json.dumps(asdict(self.assessment), indent=2),
                    "application/json",
                )
            )
        return attachments


SITE_SCENARIO = "complete-infrastructure-failure"


def precedent_ledger(target: Target, identity: DrillIdentity) -> PrecedentLedger | None:
    """The companion factory: for scenario 4 and scenario 6 (a site loss takes Weaviate with
    it), where the stack runs Weaviate, on Docker where the project does, or on a cluster where
    it serves (drillbook.scenarios.vector_store.on_kubernetes)."""
    if identity.scenario not in (SCENARIO, SITE_SCENARIO):
        return None
    if target.stack is None and target.config.platform == "kubernetes":
        from drillbook.scenarios.vector_store.on_kubernetes import kubernetes_ledger

        return kubernetes_ledger(target)
    if target.stack is None:
        return _docker_ledger(target)
    from drillbook.stack.services.moto import aws_env
    from drillbook.stack.services.weaviate import VectorStoreNotProvided, endpoint

    try:
        weaviate = endpoint(target.stack)
    except VectorStoreNotProvided:
        return None  # the `vector_store` fixture says why, before any drill begins
    store = S3BackupStore.from_env(aws_env(target.stack.port("aws")))
    backups = VectorStoreBackups(
        weaviate, store, export_root=target.stack.run_dir / "backups" / "weaviate"
    )
    return PrecedentLedger(
        base_url=target.base_url,
        tokens=target.tokens,
        weaviate=WeaviateProbe(weaviate.url),
        backups=backups,
    )


DOCKER_EXPORTS = Path(".drillbook") / "weaviate-exports"
"""On Docker: where a backup is exported before its upload (the embedded stack uses its run
directory)."""


def _docker_ledger(target: Target) -> PrecedentLedger | None:
    """On platform docker: Weaviate at its published port, its volumes on this machine, backups
    in the S3 the database dumps go to ([backup] endpoint_url, else the project's own S3
    service: the reference project's moto)."""
    from drillbook.backup.compose import compose_s3_env
    from drillbook.platforms.docker import DockerPlatform
    from drillbook.scenarios.vector_store.on_docker import docker_weaviate_endpoint

    weaviate = docker_weaviate_endpoint(target)
    if weaviate is None:
        return None
    if not isinstance(target.platform, DockerPlatform):
        raise InvalidDrill(f"platform docker expected, got {target.platform.name}")
    s3 = compose_s3_env(target.platform, target.config)
    backups = VectorStoreBackups(
        weaviate, S3BackupStore.from_env(s3), export_root=DOCKER_EXPORTS.resolve()
    )
    return PrecedentLedger(
        base_url=target.base_url,
        tokens=target.tokens,
        weaviate=WeaviateProbe(weaviate.url),
        backups=backups,
    )


def known_queries() -> Iterable[tuple[str, str]]:
    """(query, expected object id) for every known precedent."""
    return ((k.query, k.object_id) for k in CORPUS)
