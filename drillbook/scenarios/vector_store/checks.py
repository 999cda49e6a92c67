"""The verification list of the plan's scenario 4, as checks, and the precedent RPO verdict.

    4. Verification (30-35 minutes)
       - Verify Weaviate connectivity
       - Test precedent retrieval
       - Verify embedding storage
       - Monitor application health

Each check reads the drill's precedent ledger (drillbook.scenarios.vector_store.companion) and
asks both the service (through the front door) and Weaviate itself (directly), so a cache
answering for a lost store cannot pass for a recovery.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from drillbook.core.contracts import COLLECTION, precedent_id
from drillbook.core.steps import CheckResult, checklist_item
from drillbook.errors import DataLossDetected, InvalidDrill
from drillbook.scenarios.vector_store.companion import NAME, PrecedentLedger, known_queries

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill


def ledger_of(drill: Drill) -> PrecedentLedger:
    """The drill's precedent ledger (Weaviate reached directly: the embedded stack's, or the
    Compose project's at its published port)."""
    if not any(c.name == NAME for c in drill.companions):
        raise InvalidDrill(
            f"this drill has no precedent ledger: it runs beside scenario "
            f"'vector-database-failure' drills on the embedded stack and on Docker only (platform "
            f"{drill.platform.name!r} has no direct access to Weaviate in this version)"
        )
    companion = drill.companion(NAME)
    if not isinstance(companion, PrecedentLedger):
        raise InvalidDrill(f"the drill's {NAME!r} companion is not a PrecedentLedger")
    return companion


@checklist_item("Verify Weaviate connectivity")
def weaviate_connectivity(drill: Drill) -> CheckResult:
    """Weaviate answers ready, and has the Precedent collection."""
    weaviate = ledger_of(drill).weaviate
    ready = weaviate.ready()
    try:
        exists = ready and weaviate.collection_exists(COLLECTION)
        count = weaviate.count(COLLECTION) if exists else None
    except httpx.HTTPError as exc:
        return CheckResult("Verify Weaviate connectivity", False, f"{weaviate.url}: {exc}")
    detail = (
        f"{weaviate.url} ready, collection {COLLECTION} holds {count} objects"
        if exists
        else f"{weaviate.url} {'ready but without' if ready else 'not ready, no'} {COLLECTION}"
    )
    return CheckResult("Verify Weaviate connectivity", bool(exists), detail, {"objects": count})


@checklist_item("Test precedent retrieval")
def precedent_retrieval(drill: Drill) -> CheckResult:
    """Every known query returns its known precedent first, searched in Weaviate (not cached)."""
    ledger = ledger_of(drill)
    results: list[dict[str, Any]] = []
    for query, expected in known_queries():
        try:
            answer = ledger.search(query, limit=3, source="store")
        except httpx.HTTPError as exc:
            results.append(
                {"query": query, "expected": expected, "passed": False, "error": str(exc)}
            )
            continue
        hits = answer.get("results") or []
        first = hits[0] if hits else {}
        results.append(
            {
                "query": query,
                "expected": expected,
                "got": first.get("id"),
                "text": first.get("text"),
                "distance": first.get("distance"),
                "source": answer.get("source"),
                "passed": first.get("id") == expected and answer.get("source") == "store",
            }
        )
    ledger.retrieval = results
    passed = sum(1 for r in results if r["passed"])
    failures = [str(r["query"]) for r in results if not r["passed"]]
    detail = f"{passed}/{len(results)} known queries returned their precedent first"
    if failures:
        detail += f"; wrong or no answer for: {', '.join(failures)}"
    return CheckResult(
        "Test precedent retrieval", passed == len(results), detail, {"results": results}
    )


@checklist_item("Verify embedding storage")
def embedding_storage(drill: Drill) -> CheckResult:
    """A new precedent is stored; what was acknowledged before the fault is counted back.

    Passes when storage works now, every known precedent is back, and (after a restore) every
    precedent acknowledged before the restored backup was taken is back. Precedents acknowledged
    later are lost by design of a backup restore: they are counted, and judged by the RPO.
    """
    ledger = ledger_of(drill)
    if drill.fault_at is None:
        raise InvalidDrill("embedding storage is verified after a fault: inject one first")
    assessment = ledger.assess(drill.fault_at)
    missing_corpus = ledger.corpus_missing()
    key = f"storage-check-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=2.0) as client:
        try:
            response = ledger.post(client, key, f"storage check {key}", check=True)
            stored_now = response.status_code == 200
        except httpx.HTTPError:
            stored_now = False
    stored_now = stored_now and bool(ledger.weaviate.existing(COLLECTION, [precedent_id(key)]))
    missing_from_backup: list[str] = []
    if ledger.backups.restored and ledger.backups.created_at_monotonic:
        taken = ledger.backups.created_at_monotonic[-1]
        lost = set(assessment.lost_keys)
        missing_from_backup = [
            w.key
            for w in ledger.writes()
            if w.acked_at is not None and w.acked_at < taken and w.key in lost
        ]
    passed = stored_now and not missing_corpus and not missing_from_backup
    detail = (
        f"new precedent {'stored' if stored_now else 'NOT stored'}; "
        f"{assessment.present}/{assessment.acked_before_fault} acknowledged precedents back, "
        f"{len(assessment.lost_keys)} lost (RPO {assessment.rpo_seconds:.3f} s); "
        f"{ledger.objects_in_store} objects in {COLLECTION}"
    )
    if ledger.backups.restored:
        used = ledger.backups.restored[-1]
        detail += (
            f"; restored from {used.backup.backup_id} (age {used.age_seconds:.1f} s, "
            f"{used.backup.size_bytes} bytes{', fetched from S3' if used.downloaded else ''}) "
            f"in {used.seconds:.2f} s"
        )
    if missing_corpus:
        detail += f"; known precedents missing: {', '.join(missing_corpus)}"
    if missing_from_backup:
        detail += (
            f"; {len(missing_from_backup)} precedents acknowledged before the restored backup "
            f"was taken are missing (e.g. {missing_from_backup[0]}): the backup is incomplete"
        )
    return CheckResult("Verify embedding storage", passed, detail)


@checklist_item("Monitor application health")
def application_health(drill: Drill) -> CheckResult:
    """While Weaviate was down the service said so (degraded, still answering); healthy now."""
    ledger = ledger_of(drill)
    measurement = drill.measurement
    start = drill.fault_at
    end = measurement.recovered_at if measurement is not None else None
    if start is None or end is None:
        return CheckResult("Monitor application health", False, "no outage and recovery measured")
    during = [o for o in ledger.health_observations() if start <= o.sent_at < end]
    reported = [o for o in during if o.http_status == 200 and o.precedent_store == "error"]
    failed = [o for o in during if o.http_status is None or o.http_status >= 500]
    with httpx.Client(timeout=2.0) as client:
        now = ledger.look_at_health(client)
    healthy_now = now.http_status == 200 and now.precedent_store == "ok" and now.status == "healthy"
    passed = bool(reported) and not failed and healthy_now
    detail = (
        f"during the outage {len(reported)} of {len(during)} looks at /health reported "
        f"precedent_store 'error' with the service answering"
        + (f", {len(failed)} got no answer or a 5xx" if failed else "")
        + f"; now: status {now.status!r}, precedent_store {now.precedent_store!r}"
    )
    return CheckResult("Monitor application health", passed, detail)


def assert_precedent_rpo(drill: Drill) -> None:
    """The precedents lost against the plan's RPO (data loss tolerance)."""
    ledger = ledger_of(drill)
    allowed = drill.config.objectives.rpo_seconds
    with drill.phase("rpo", f"objectives: precedent RPO within {allowed:.0f}s"):
        if drill.fault_at is None:
            raise InvalidDrill("the RPO is measured after a fault: inject one first")
        assessment = ledger.assessment or ledger.assess(drill.fault_at)
        drill.note(
            "precedent RPO",
            rpo_seconds=assessment.rpo_seconds,
            lost=len(assessment.lost_keys),
            acked_before_fault=assessment.acked_before_fault,
        )
        if assessment.rpo_seconds > allowed:
            raise DataLossDetected(
                f"RPO breach: {len(assessment.lost_keys)} acknowledged precedents lost, the "
                f"oldest acknowledged {assessment.rpo_seconds:.3f}s before the fault, beyond "
                f"the RPO of {allowed:.0f}s (first lost: {assessment.lost_keys[0]})"
            )
