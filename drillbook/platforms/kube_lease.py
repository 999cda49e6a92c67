"""One drill per cluster: a Lease (coordination.k8s.io/v1) in the cluster itself.

The local lock (drillbook.engine.lock) only sees runs on the same machine; two CI runners on two
machines could otherwise drill one cluster at once, each replaying or stacking faults on the
other's. The Lease `drillbook-drill-lock` lives in the lock namespace (`kubernetes.lock_namespace`,
else the first configured component's namespace):

- `holderIdentity` names the run (host, pid, run id, start); annotations add its command line.
- A background thread renews `renewTime` while the run lives. A run that dies stops renewing,
  and once `renewTime + leaseDurationSeconds` has passed the next run takes the Lease over.
- Every write is a replace carrying the `resourceVersion` that was read (or a create): when two
  runs race for an expired Lease, the API server accepts one and answers the other 409 Conflict;
  the loser reads the winner and refuses, naming it.
- Times are the API server's clock (its Date header), not the runners': two machines whose
  clocks disagree still agree on when a Lease expires.
- `drillbook halt --config` asks the holder to stop by annotating the Lease; the holder's thread
  sees it within a poll and writes its local halt request, which the drill's stop watch obeys.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from kubernetes import client
from urllib3.exceptions import HTTPError as Urllib3Error

from drillbook.errors import DrillError, TargetInUse
from drillbook.platforms.kube_errors import (
    ApiCall,
    KubernetesAccessDenied,
    access_denied_message,
    explain,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
LEASE_NAME = "drillbook-drill-lock"
HALT_ANNOTATION = "drillbook.dev/halt-request"
"""Set by `drillbook halt --config` on a live holder's Lease: who asked, and when."""
COMMAND_ANNOTATION = "drillbook.dev/command"
MANAGED_BY = {"app.kubernetes.io/managed-by": "drillbook"}
CLOCK_MARGIN_SECONDS = 1.0
"""The server's Date header has whole seconds: each side's estimate of the server's clock is
within half a second of it, so an expiry is only believed a second past its time."""
POLL_SECONDS = 2.0
"""How often the holder reads its Lease (a halt request is seen within this)."""
_CONFLICT = 409
_NOT_FOUND = 404

LeaseState = Literal["free", "mine", "held", "expired"]


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease says, in plain values (the pure rules below judge this)."""

    holder: str | None
    renewed_at: float | None
    """renewTime (else acquireTime) as Unix seconds; None when neither is set."""
    duration_seconds: float
    resource_version: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    transitions: int = 0


def lease_state(record: LeaseRecord | None, *, me: str, now: float) -> LeaseState:
    """Who has the cluster: nobody ("free": no Lease, or released), this run ("mine"), a live
    run ("held"), or a run that stopped renewing ("expired", safe to take over). `now` is the
    API server's clock."""
    if record is None or not record.holder:
        return "free"
    if record.holder == me:
        return "mine"
    if record.renewed_at is None:
        return "expired"  # a holder that never said when it renewed cannot be told alive
    if now > record.renewed_at + record.duration_seconds + CLOCK_MARGIN_SECONDS:
        return "expired"
    return "held"


def seconds_left(record: LeaseRecord, now: float) -> float:
    """Seconds until the Lease expires unless renewed (negative: expired that long ago)."""
    if record.renewed_at is None:
        return 0.0
    return record.renewed_at + record.duration_seconds + CLOCK_MARGIN_SECONDS - now


def new_identity(now: float | None = None) -> str:
    """This run's holderIdentity: host, pid, a run id of its own, start (UTC)."""
    started = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.UTC)
    return (
        f"{socket.gethostname()} pid {os.getpid()} run {uuid.uuid4().hex[:8]} "
        f"since {started.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )


def describe_holder(record: LeaseRecord, now: float) -> str:
    left = seconds_left(record, now)
    command = record.annotations.get(COMMAND_ANNOTATION)
    return (
        f"{record.holder}"
        + (f": {command}" if command else "")
        + f"; renewed {max(0.0, now - (record.renewed_at or now)):.0f} s ago, expires in "
        f"{max(0.0, left):.0f} s unless renewed"
    )


class ServerClock:
    """The API server's clock, estimated from its Date header once, then the local clock."""

    def __init__(self, api: client.ApiClient, request_timeout: float) -> None:
        answer: Any = client.VersionApi(api).get_code(
            _preload_content=False, _request_timeout=request_timeout
        )
        date = answer.headers.get("Date")
        local = time.time()
        # The header truncates to the second: the middle of that second is the best guess.
        server = email.utils.parsedate_to_datetime(date).timestamp() + 0.5 if date else local
        self.offset = server - local

    def now(self) -> float:
        return time.time() + self.offset


Document = dict[str, Any]
"""A Lease as JSON, as the API serves it (its times stay the strings the server wrote)."""


def lease_record(lease: Document) -> LeaseRecord:
    spec = lease.get("spec") or {}
    meta = lease.get("metadata") or {}
    at = spec.get("renewTime") or spec.get("acquireTime")
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        renewed_at=datetime.datetime.fromisoformat(at).timestamp() if at else None,
        duration_seconds=float(spec.get("leaseDurationSeconds") or 0),
        resource_version=meta.get("resourceVersion"),
        annotations=dict(meta.get("annotations") or {}),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def _micro(seconds: float) -> str:
    """A MicroTime as the API server parses it (RFC 3339, always six fractional digits: the
    client's isoformat() drops them when they are zero)."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseApi:
    """The Lease's reads and writes, each failure one DrillError naming the call."""

    def __init__(
        self, api: client.ApiClient, *, namespace: str, context: str, request_timeout: float
    ) -> None:
        # Any: the Lease goes back and forth as JSON (its MicroTimes as the server wrote them),
        # which the typed client's signatures (models) do not describe.
        self.coordination: Any = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.context = context
        self.request_timeout = request_timeout

    @property
    def where(self) -> str:
        return f"Lease {self.namespace}/{LEASE_NAME} (kube context '{self.context}')"

    def _call(self, verb: str, action: Callable[..., _T]) -> _T:
        call = ApiCall(verb, "leases", self.namespace, LEASE_NAME, group="coordination.k8s.io")
        try:
            return action(_request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status in (_CONFLICT, _NOT_FOUND):
                raise
            raise explain(call, exc.status, exc.body, context=self.context) from None
        except (Urllib3Error, OSError) as exc:
            raise explain(
                call, None, f"{type(exc).__name__}: {exc}", context=self.context
            ) from None

    def read(self) -> tuple[LeaseRecord | None, Document | None]:
        try:
            answer = self._call(
                "get",
                lambda **kw: self.coordination.read_namespaced_lease(
                    LEASE_NAME, self.namespace, _preload_content=False, **kw
                ),
            )
        except client.ApiException as exc:
            if exc.status == _NOT_FOUND:
                return None, None
            raise explain(
                ApiCall("get", "leases", self.namespace, LEASE_NAME, "coordination.k8s.io"),
                exc.status,
                exc.body,
                context=self.context,
            ) from None
        lease = json.loads(answer.data)
        return lease_record(lease), lease

    def create(self, body: Document) -> bool:
        """False when another run created it first (409)."""
        try:
            self._call(
                "create",
                lambda **kw: self.coordination.create_namespaced_lease(self.namespace, body, **kw),
            )
        except client.ApiException as exc:
            if exc.status == _CONFLICT:
                return False
            raise
        return True

    def replace(self, body: Document) -> bool:
        """False when the Lease changed since it was read (409: someone else wrote it)."""
        try:
            self._call(
                "update",
                lambda **kw: self.coordination.replace_namespaced_lease(
                    LEASE_NAME, self.namespace, body, **kw
                ),
            )
        except client.ApiException as exc:
            if exc.status in (_CONFLICT, _NOT_FOUND):
                return False
            raise
        return True

    def annotate(self, annotations: Mapping[str, str | None]) -> None:
        self._call(
            "patch",
            lambda **kw: self.coordination.patch_namespaced_lease(
                LEASE_NAME, self.namespace, {"metadata": {"annotations": dict(annotations)}}, **kw
            ),
        )


LOCK_RULES = (
    ApiCall("get", "leases", None, group="coordination.k8s.io"),
    ApiCall("create", "leases", None, group="coordination.k8s.io"),
    ApiCall("update", "leases", None, group="coordination.k8s.io"),
    ApiCall("get", "configmaps", None),
    ApiCall("create", "configmaps", None),
    ApiCall("patch", "configmaps", None),
)
"""What holding the cluster's lock and keeping its undo record takes, in the lock namespace."""


def check_lock_access(api: client.ApiClient, *, namespace: str, context: str) -> None:
    """Refuse, before anything is injected, an identity that cannot hold the lock or keep the
    undo record: one error listing every missing rule (SelfSubjectAccessReview)."""
    authorization = client.AuthorizationV1Api(api)
    missing = []
    for rule in LOCK_RULES:
        call = ApiCall(rule.verb, rule.resource, namespace, group=rule.group)
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb=call.verb, group=call.group, resource=call.resource
                )
            )
        )
        try:
            answer = authorization.create_self_subject_access_review(review)
        except client.ApiException as exc:
            raise explain(
                ApiCall("create", "selfsubjectaccessreviews", None, group="authorization.k8s.io"),
                exc.status,
                exc.body,
                context=context,
            ) from None
        if not (answer.status is not None and answer.status.allowed):
            missing.append(access_denied_message(call, ""))
    if missing:
        raise KubernetesAccessDenied(
            f"kube context '{context}' may not hold the cluster's drill lock (Lease "
            f"{namespace}/{LEASE_NAME}) or keep its undo record (ConfigMap in {namespace}); "
            "nothing was injected. " + " | ".join(missing)
        )


@dataclass
class _Holding:
    """This process's hold on one cluster's Lease, shared by every target it opens there."""

    lock: ClusterLock
    users: int


_HELD: dict[tuple[str, str], _Holding] = {}
_GUARD = threading.Lock()


class ClusterLock:
    """The cluster's drill lock: acquire (or TargetInUse naming the holder), keep it renewed,
    release at close. One process opening the same cluster twice shares its own hold."""

    def __init__(
        self,
        leases: LeaseApi,
        clock: ServerClock,
        *,
        server: str,
        duration_seconds: float,
        halt_request: Path | None = None,
        identity: str | None = None,
    ) -> None:
        self.leases = leases
        self.clock = clock
        self.key = (server, leases.namespace)
        self.duration_seconds = duration_seconds
        self.halt_request = halt_request
        self.identity = identity or new_identity()
        self.taken_over: LeaseRecord | None = None
        """The expired holder this run took the Lease from, if it did."""
        self.lost: str | None = None
        """Why the renewal thread found the Lease no longer this run's (then it stops)."""
        self._acquired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed_at = 0.0

    # -- taking and giving back ----------------------------------------------------------
    def acquire(self) -> ClusterLock:
        with _GUARD:
            held = _HELD.get(self.key)
            if held is not None:
                held.users += 1
                self._acquired = True
                return self
            self._take()
            _HELD[self.key] = _Holding(self, 1)
            self._acquired = True
        self._thread = threading.Thread(
            target=self._keep, name=f"drillbook-lease-{self.leases.namespace}", daemon=True
        )
        self._thread.start()
        return self

    def _take(self) -> None:
        record, lease = self.leases.read()
        now = self.clock.now()
        state = lease_state(record, me=self.identity, now=now)
        if state == "held":
            assert record is not None
            raise self._in_use(record, now)
        body = self._body(lease, record)
        won = self.leases.create(body) if lease is None else self.leases.replace(body)
        if not won:
            # Someone else wrote the Lease between our read and our write: they have it.
            record, _ = self.leases.read()
            now = self.clock.now()
            if record is None or lease_state(record, me=self.identity, now=now) != "held":
                raise TargetInUse(
                    f"{self.leases.where}: another run took the cluster's drill lock at the "
                    "same moment; run again once it has finished"
                )
            raise self._in_use(record, now)
        self._renewed_at = time.monotonic()
        if state == "expired":
            assert record is not None
            self.taken_over = record
            log.warning(
                "took over %s from %s, which stopped renewing it %.0f s ago (a run that died)",
                self.leases.where,
                record.holder,
                -seconds_left(record, now),
            )

    def _in_use(self, record: LeaseRecord, now: float) -> TargetInUse:
        return TargetInUse(
            f"kube context '{self.leases.context}' is being drilled by another run "
            f"({describe_holder(record, now)}; {self.leases.where}). One run per cluster: wait "
            "for it to finish, or stop it (drillbook halt --config ...); a run that died "
            f"releases the cluster {self.duration_seconds:.0f} s after its last renewal."
        )

    def _body(self, lease: Document | None, record: LeaseRecord | None) -> Document:
        """The Lease naming this run; a replace carries the resourceVersion that was read."""
        now = _micro(self.clock.now())
        annotations = dict(record.annotations) if record is not None else {}
        annotations.pop(HALT_ANNOTATION, None)  # a halt asked of an earlier holder is not ours
        annotations[COMMAND_ANNOTATION] = " ".join(sys.argv)[:300]
        metadata: Document = {
            **((lease or {}).get("metadata") or {}),
            "name": LEASE_NAME,
            "namespace": self.leases.namespace,
            "annotations": annotations,
        }
        metadata.setdefault("labels", dict(MANAGED_BY))
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration_seconds)),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": record.transitions + bool(record.holder) if record else 0,
            },
        }

    def release(self) -> None:
        with _GUARD:
            if not self._acquired:
                return
            self._acquired = False
            held = _HELD.get(self.key)
            if held is None:
                return
            held.users -= 1
            if held.users > 0:
                return
            del _HELD[self.key]
        held.lock._give_back()

    def _give_back(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.leases.request_timeout * 2 + POLL_SECONDS)
        for _ in range(3):  # a renewal racing the release is a conflict worth one more read
            try:
                record, lease = self.leases.read()
                if record is None or lease is None or record.holder != self.identity:
                    return  # not ours any more: nothing to give back
                annotations = dict(record.annotations)
                annotations.pop(HALT_ANNOTATION, None)
                lease["metadata"]["annotations"] = annotations
                spec = lease["spec"]
                for held in ("holderIdentity", "acquireTime", "renewTime"):
                    spec.pop(held, None)
                if self.leases.replace(lease):
                    return
            except DrillError as exc:
                log.warning(
                    "could not release %s (%s): it expires by itself in %.0f s",
                    self.leases.where,
                    exc,
                    self.duration_seconds,
                )
                return

    # -- keeping it ----------------------------------------------------------------------
    def _keep(self) -> None:
        tick = min(POLL_SECONDS, self.duration_seconds / 3)
        while not self._stop.wait(tick):
            try:
                if not self._renew():
                    return
            except Exception as exc:  # the API server briefly unreachable: the next tick retries
                log.warning("could not renew %s: %s", self.leases.where, exc)

    def _renew(self) -> bool:
        """Read the Lease; obey a halt request; renew when due. False once it is lost."""
        record, lease = self.leases.read()
        if record is None or lease is None or record.holder != self.identity:
            who = record.holder if record is not None and record.holder else "nobody"
            self._lose(f"the cluster's drill lock is now held by {who}")
            return False
        asked = record.annotations.get(HALT_ANNOTATION)
        if asked and self.halt_request is not None and not self.halt_request.exists():
            self.halt_request.write_text(asked + "\n", encoding="utf-8")
        if time.monotonic() - self._renewed_at < self.duration_seconds / 3:
            return True
        lease["spec"]["renewTime"] = _micro(self.clock.now())
        if self.leases.replace(lease):
            self._renewed_at = time.monotonic()
        return True  # a conflict (halt annotation added meanwhile): the next tick re-reads

    def _lose(self, why: str) -> None:
        """Another run has the cluster: this one must stop drilling it, its faults undone."""
        self.lost = why
        log.error("%s: %s; halting this run", self.leases.where, why)
        if self.halt_request is not None:
            self.halt_request.write_text(f"lost the cluster's drill lock: {why}\n", "utf-8")


def request_halt(leases: LeaseApi, clock: ServerClock, *, by: str) -> LeaseRecord | None:
    """Ask the live holder of the cluster's Lease to stop; returns it, or None if nobody holds
    it (no Lease, released, or expired: a run that died)."""
    record, _ = leases.read()
    if record is None or lease_state(record, me="", now=clock.now()) != "held":
        return None
    leases.annotate({HALT_ANNOTATION: by})
    return record


def holder_now(leases: LeaseApi, clock: ServerClock) -> LeaseRecord | None:
    """The live holder of the cluster's Lease, or None."""
    record, _ = leases.read()
    if record is None or lease_state(record, me="", now=clock.now()) != "held":
        return None
    return record
