"""The `kubernetes` platform: the plan's kubectl commands through the official Python client.

A component of the configuration is a namespace, a label selector and a workload
(`deployment/eleanor-v8`, `statefulset/postgres`); a replica is a pod behind the selector.
What each verb sends is what kubectl sends for the plan's command:

- kill: `kubectl delete pod --grace-period=N [--force]`, a DELETE with gracePeriodSeconds;
- restart: `kubectl rollout restart`, a PATCH of the pod template's annotation
  kubectl.kubernetes.io/restartedAt (the same patch kubectl sends);
- scale: `kubectl scale --replicas=N`, a PATCH of the workload's scale subresource;
- wait_until_ready: `kubectl rollout status`, the workload's observedGeneration and its
  updated, ready and available replicas;
- set_env / reset_env: `kubectl set env`, a JSON Patch of the container's env;
- delete_secret / restore_secret: `kubectl delete secret` / re-create it from a copy.

Unlike the local platform, controllers heal: a deleted pod is replaced by its ReplicaSet or
StatefulSet without drillbook. Every kill is recorded (`kills`) with the pods as they were, so
that the replacement of each one can be matched by owner reference and timed from the API
server's own timestamps (drillbook.platforms.pod_replacement).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes import client
from urllib3.exceptions import HTTPError as Urllib3Error

from drillbook.config.model import Component, KubernetesSettings
from drillbook.config.sections.allow import AllowSettings, refuse_unlisted_workload
from drillbook.core.platform import ComponentStatus, Replica, ReplicaCount
from drillbook.core.polling import poll_until
from drillbook.core.redaction import register_secret
from drillbook.core.undo import UndoAction
from drillbook.errors import FaultFailed, InvalidDrill, NotAllowed, RecoveryTimeout
from drillbook.platforms.kube_connect import KubeConnection, connect
from drillbook.platforms.kube_errors import (
    ApiCall,
    KubernetesAccessDenied,
    access_denied_message,
    explain,
)
from drillbook.platforms.pod_config import missing_refs, required_refs
from drillbook.platforms.pod_replacement import KilledPod, PodSnapshot

_T = TypeVar("_T")
_POLL_SECONDS = 0.1
_KILL_SETTLE_SECONDS = 30.0
_RECONCILE_TIMEOUT_SECONDS = 120.0
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
"""The annotation `kubectl rollout restart` sets on the pod template."""
STOPPED_REPLICAS = "drillbook.dev/replicas-before-stop"
"""Annotation keeping a stopped workload's replica count on the workload itself, so that the
undo of a stop can be replayed by another process after a crash."""
SECRET_BACKUP_SUFFIX = "-drillbook-backup"
_WORKLOAD_KINDS = {"deployment": "deployments", "statefulset": "statefulsets"}


@dataclass(frozen=True)
class KubeComponent:
    """How one configured component maps onto the cluster."""

    name: str
    namespace: str
    selector: str
    workload_kind: str | None
    """deployment or statefulset (None: the component has no workload to restart or scale)."""
    workload_name: str | None

    @classmethod
    def from_config(cls, component: Component) -> KubeComponent:
        if not component.namespace or not component.selector:
            raise InvalidDrill(
                f"component '{component.name}' needs namespace and selector on platform "
                f"kubernetes; add them under [target.components.{component.name}]"
            )
        kind = name = None
        if component.workload:
            kind, _, name = component.workload.partition("/")
            if kind not in _WORKLOAD_KINDS:
                raise InvalidDrill(
                    f"component '{component.name}': workload '{component.workload}' is a {kind}; "
                    "drillbook restarts and scales deployments and statefulsets"
                )
        return cls(component.name, component.namespace, component.selector, kind, name)

    @property
    def workload(self) -> str:
        return f"{self.workload_kind}/{self.workload_name}"


@dataclass(frozen=True)
class KillRecord:
    """One kill: the pods deleted, and the pods of the component that existed just before."""

    component: str
    namespace: str
    selector: str
    killed: tuple[KilledPod, ...]
    existed_before: frozenset[str]


def _unix(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _timestamp(value: object) -> float | None:
    """A metav1.Time ("2026-11-27T16:07:31Z") as Unix seconds."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.datetime.fromisoformat(value).timestamp()


def _replica(component: str, pod: Mapping[str, Any]) -> Replica:
    meta, status = pod.get("metadata", {}), pod.get("status", {})
    phase = str(status.get("phase") or "Unknown")
    deleting = meta.get("deletionTimestamp") is not None
    return Replica(
        component=component,
        name=str(meta.get("name")),
        pid=None,
        running=phase == "Running" and not deleting,
        state="Terminating" if deleting else phase,
        started_at=_timestamp(status.get("startTime")),
    )


def pod_snapshot(pod: Mapping[str, Any]) -> PodSnapshot:
    """A PodSnapshot of a pod as the API serves it (its JSON document)."""
    meta, status = pod.get("metadata", {}), pod.get("status", {})
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready")
    scheduled = conditions.get("PodScheduled")
    return PodSnapshot(
        uid=str(meta.get("uid")),
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        owner_uid=owner.get("uid") if owner else None,
        owner=f"{owner.get('kind')}/{owner.get('name')}" if owner else None,
        created_at=_timestamp(meta.get("creationTimestamp")) or 0.0,
        ready=bool(ready and ready.get("status") == "True"),
        ready_since=_timestamp(ready.get("lastTransitionTime")) if ready else None,
        scheduled_at=(
            _timestamp(scheduled.get("lastTransitionTime"))
            if scheduled and scheduled.get("status") == "True"
            else None
        ),
        deleting=meta.get("deletionTimestamp") is not None,
        restart_count=sum(
            int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []
        ),
    )


class KubernetesPlatform:
    """Platform Protocol over a Kubernetes API server (see drillbook.core.platform.Platform)."""

    name = "kubernetes"
    replaces_killed_pods = True
    """Controllers recreate a deleted pod (see drillbook.scenarios.workloads.runbook)."""
    UNDO_VERBS = frozenset(
        {
            "reconcile",
            "start",
            "restart",
            "scale",
            "reset_env",
            "restore_secret",
            "repair_database_volume",
        }
    )

    def __init__(
        self,
        connection: KubeConnection,
        components: Mapping[str, KubeComponent],
        *,
        kill_grace_period_seconds: float = 0.0,
    ) -> None:
        self.connection = connection
        self.core = client.CoreV1Api(connection.api)
        self.apps = client.AppsV1Api(connection.api)
        self._components = dict(components)
        self.kill_grace_period_seconds = kill_grace_period_seconds
        self.kills: list[KillRecord] = []
        self._lock = threading.Lock()
        self.allow = AllowSettings()
        """What may be faulted ([allow]); set by whoever opens the target."""
        self._undoing = False

    @classmethod
    def from_settings(
        cls,
        settings: KubernetesSettings,
        components: Sequence[Component],
        *,
        context: str | None = None,
    ) -> KubernetesPlatform:
        """Connect to `context` (default: settings.context) and map the components."""
        connection = connect(
            settings.kubeconfig,
            context or settings.context,
            request_timeout=settings.request_timeout_seconds,
        )
        mapped = {c.name: KubeComponent.from_config(c) for c in components}
        return cls(connection, mapped, kill_grace_period_seconds=settings.kill_grace_period_seconds)

    @property
    def context(self) -> str:
        return self.connection.context

    def close(self) -> None:
        self.connection.close()

    # -- plumbing ------------------------------------------------------------------------
    def component(self, component: str) -> KubeComponent:
        try:
            return self._components[component]
        except KeyError:
            known = ", ".join(sorted(self._components)) or "none"
            raise InvalidDrill(
                f"component '{component}' is not configured for the Kubernetes platform; "
                f"known: {known} ([target.components.*] with namespace and selector)"
            ) from None

    def _refuse_unless_allowed(self, component: str) -> None:
        """Every verb that changes a workload asks first: a workload the allow-list does not
        name is refused before the API is called. Undos are not asked: they put back what an
        allowed fault changed."""
        if self._undoing:
            return
        comp = self.component(component)
        workload = comp.workload if comp.workload_name else f"pods {comp.selector}"
        refuse_unlisted_workload(self.allow, comp.namespace, workload)

    def _call(self, call: ApiCall, action: Callable[..., _T], *, fault: bool = False) -> _T:
        """Run one API call; every failure becomes one DrillError naming verb, resource, ns."""
        try:
            return action(_request_timeout=self.connection.request_timeout)
        except client.ApiException as exc:
            raise explain(call, exc.status, exc.body, context=self.context, fault=fault) from None
        except (Urllib3Error, OSError) as exc:
            raise explain(
                call, None, f"{type(exc).__name__}: {exc}", context=self.context
            ) from None

    def _workload_api(self, comp: KubeComponent, verb: str) -> tuple[ApiCall, str, str]:
        """The API call, the resource (deployments, statefulsets) and the workload's name."""
        if comp.workload_kind is None or comp.workload_name is None:
            raise InvalidDrill(
                f"component '{comp.name}' has no workload; set workload = "
                f'"deployment/NAME" (or statefulset/NAME) under [target.components.{comp.name}]'
            )
        resource = _WORKLOAD_KINDS[comp.workload_kind]
        return (
            ApiCall(verb, resource, comp.namespace, comp.workload_name, group="apps"),
            resource,
            comp.workload_name,
        )

    def read_workload(self, component: str) -> Any:
        comp = self.component(component)
        call, resource, name = self._workload_api(comp, "get")
        read = (
            self.apps.read_namespaced_deployment
            if resource == "deployments"
            else self.apps.read_namespaced_stateful_set
        )
        return self._call(call, lambda **kw: read(name, comp.namespace, **kw))

    def _patch_workload(
        self, component: str, body: Any, *, fault: bool = False, json_patch: bool = False
    ) -> Any:
        comp = self.component(component)
        call, resource, name = self._workload_api(comp, "patch")
        patch = (
            self.apps.patch_namespaced_deployment
            if resource == "deployments"
            else self.apps.patch_namespaced_stateful_set
        )
        if json_patch:
            # A list body is a JSON Patch; the client must be told, it defaults to a merge.
            return self._call(
                call,
                lambda **kw: patch(
                    name,
                    comp.namespace,
                    body,
                    _content_type="application/json-patch+json",
                    **kw,
                ),
                fault=fault,
            )
        return self._call(call, lambda **kw: patch(name, comp.namespace, body, **kw), fault=fault)

    def pods(self, component: str) -> list[dict[str, Any]]:
        """The component's pods as the API serves them (JSON documents), by name.

        Raw JSON, not the client's models: this runs for every probe of the pod-readiness view
        and every poll of the pod-recovery companion, and the models cost twice the CPU.
        """
        comp = self.component(component)
        document = self._raw(
            ApiCall("list", "pods", comp.namespace),
            lambda **kw: self.core.list_namespaced_pod(
                comp.namespace, label_selector=comp.selector, **kw
            ),
        )
        items: list[dict[str, Any]] = document.get("items") or []
        return sorted(items, key=lambda p: str(p["metadata"]["name"]))

    def _raw(self, call: ApiCall, action: Callable[..., Any]) -> dict[str, Any]:
        response = self._call(call, lambda **kw: action(_preload_content=False, **kw))
        document = json.loads(response.data)
        return document if isinstance(document, dict) else {}

    def controller_workloads(self, component: str) -> dict[str, str]:
        """ReplicaSet UID -> the UID of the Deployment that owns it, in the component's
        namespace: how a rollout's new ReplicaSet is known to replace the old one's pods."""
        comp = self.component(component)
        document = self._raw(
            ApiCall("list", "replicasets", comp.namespace, group="apps"),
            lambda **kw: self.apps.list_namespaced_replica_set(comp.namespace, **kw),
        )
        result: dict[str, str] = {}
        for item in document.get("items") or []:
            meta = item.get("metadata", {})
            owner = next(
                (o for o in meta.get("ownerReferences") or [] if o.get("controller")), None
            )
            if owner is not None:
                result[str(meta.get("uid"))] = str(owner.get("uid"))
        return result

    def desired_replicas(self, component: str) -> int:
        """spec.replicas of the workload, through its (small) scale subresource."""
        comp = self.component(component)
        _, resource, name = self._workload_api(comp, "get")
        read = (
            self.apps.read_namespaced_deployment_scale
            if resource == "deployments"
            else self.apps.read_namespaced_stateful_set_scale
        )
        call = ApiCall("get", resource, comp.namespace, name, "apps", "scale")
        scale = self._raw(call, lambda **kw: read(name, comp.namespace, **kw))
        return int(scale.get("spec", {}).get("replicas") or 0)

    def pod_snapshots(self, component: str) -> list[PodSnapshot]:
        return [pod_snapshot(p) for p in self.pods(component)]

    def missing_config(self, component: str) -> list[str]:
        """The Secrets and ConfigMaps (or keys) the workload's pod template needs that do not
        exist: what would keep a pod started now from starting (pod_config). [] without a
        workload. Values are never decoded: only names and keys are kept."""
        comp = self.component(component)
        if comp.workload_kind is None or comp.workload_name is None:
            return []
        call, resource, name = self._workload_api(comp, "get")
        read = (
            self.apps.read_namespaced_deployment
            if resource == "deployments"
            else self.apps.read_namespaced_stateful_set
        )
        workload = self._raw(call, lambda **kw: read(name, comp.namespace, **kw))
        refs = required_refs(workload.get("spec", {}).get("template") or {})
        present: dict[str, dict[str, set[str]]] = {"secret": {}, "configmap": {}}
        for kind in dict.fromkeys(r.kind for r in refs):
            lister = (
                self.core.list_namespaced_secret
                if kind == "secret"
                else self.core.list_namespaced_config_map
            )
            items = self._raw(
                ApiCall("list", "secrets" if kind == "secret" else "configmaps", comp.namespace),
                lambda lister=lister, **kw: lister(comp.namespace, **kw),
            ).get("items")
            present[kind] = {
                str(i["metadata"]["name"]): {*(i.get("data") or {}), *(i.get("binaryData") or {})}
                for i in items or []
            }
        return missing_refs(refs, present["secret"], present["configmap"])

    def server_time(self) -> float:
        """The API server's clock now (its Date header, whole seconds, like every timestamp it
        writes): the time of a fault that leaves no timestamp of its own on an object."""
        answer: Any = self._call(
            ApiCall("get", "version", None),
            lambda **kw: client.VersionApi(self.connection.api).get_code(
                _preload_content=False, **kw
            ),
        )
        date = answer.headers.get("Date")
        if not date:
            return time.time()
        return email.utils.parsedate_to_datetime(date).timestamp()

    # -- preflight -----------------------------------------------------------------------
    def check_access(self, components: Sequence[str] | None = None) -> None:
        """Refuse, before anything is injected, an identity that cannot run the drills.

        Asks the API server (SelfSubjectAccessReview) for each call a drill makes on each
        component, and checks the namespace exists; raises one error listing every missing rule.
        """
        missing: list[str] = []
        for name in components or list(self._components):
            comp = self.component(name)
            self._check_namespace(comp)
            calls = [
                ApiCall("list", "pods", comp.namespace),
                ApiCall("delete", "pods", comp.namespace),
            ]
            if comp.workload_kind is not None:
                resource = _WORKLOAD_KINDS[comp.workload_kind]
                calls += [
                    ApiCall("get", resource, comp.namespace, group="apps"),
                    ApiCall("patch", resource, comp.namespace, group="apps"),
                    ApiCall("get", resource, comp.namespace, group="apps", subresource="scale"),
                    ApiCall("patch", resource, comp.namespace, group="apps", subresource="scale"),
                ]
            for call in calls:
                if not self._allowed(call):
                    missing.append(access_denied_message(call, ""))
        if missing:
            raise KubernetesAccessDenied(
                f"kube context '{self.context}' may not run these drills; nothing was injected. "
                + " | ".join(missing)
            )

    def _check_namespace(self, comp: KubeComponent) -> None:
        try:
            self.core.read_namespace(
                comp.namespace, _request_timeout=self.connection.request_timeout
            )
        except client.ApiException as exc:
            if exc.status == 404:
                raise explain(
                    ApiCall("get", "pods", comp.namespace), 404, exc.body, context=self.context
                ) from None
            if exc.status == 403:
                return  # a namespaced Role cannot read namespaces; the pod calls will tell
            raise explain(
                ApiCall("get", "namespaces", None, comp.namespace),
                exc.status,
                exc.body,
                context=self.context,
            ) from None
        except (Urllib3Error, OSError) as exc:
            raise explain(
                ApiCall("get", "namespaces", None, comp.namespace),
                None,
                str(exc),
                context=self.context,
            ) from None

    def _allowed(self, call: ApiCall) -> bool:
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=call.namespace,
                    verb=call.verb,
                    group=call.group,
                    resource=call.resource,
                    subresource=call.subresource,
                )
            )
        )
        answer = self._call(
            ApiCall("create", "selfsubjectaccessreviews", None, group="authorization.k8s.io"),
            lambda **kw: client.AuthorizationV1Api(
                self.connection.api
            ).create_self_subject_access_review(review, **kw),
        )
        return bool(answer.status is not None and answer.status.allowed)

    # -- the Platform Protocol -----------------------------------------------------------
    def replicas(self, component: str) -> list[Replica]:
        return [_replica(component, pod) for pod in self.pods(component)]

    def kill(
        self, component: str, *, count: ReplicaCount = 1, names: Sequence[str] | None = None
    ) -> list[Replica]:
        """Delete running pods (grace period from the configuration; 0 force-deletes)."""
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        pods = self.pods(component)
        running = [p for p in pods if _replica(component, p).running]
        if names is not None:
            running = [p for p in running if p["metadata"]["name"] in names]
        chosen = running if count == "all" else running[: int(count)]
        if not chosen:
            raise FaultFailed(
                f"no running pod of '{component}' to kill (selector '{comp.selector}' in "
                f"namespace '{comp.namespace}' matches {len(pods)} pods, none Running)"
            )
        grace = round(self.kill_grace_period_seconds)
        killed: list[KilledPod] = []
        try:
            for pod in chosen:
                before = pod_snapshot(pod)
                sent_at = time.time()
                server_time = self._delete_pod(comp, before.name, grace)
                killed.append(KilledPod(pod=before, killed_at=server_time or sent_at))
        finally:
            # Recorded even when a later delete is refused: the pods already deleted count.
            if killed:
                record = KillRecord(
                    component=component,
                    namespace=comp.namespace,
                    selector=comp.selector,
                    killed=tuple(killed),
                    existed_before=frozenset(str(p["metadata"]["uid"]) for p in pods),
                )
                with self._lock:
                    self.kills.append(record)
        self._wait_killed(component, {k.pod.uid for k in killed}, grace)
        return [
            Replica(component=component, name=k.pod.name, pid=None, running=False, state="Killed")
            for k in killed
        ]

    def _delete_pod(self, comp: KubeComponent, name: str, grace: int) -> float | None:
        body = client.V1DeleteOptions(grace_period_seconds=grace, propagation_policy="Background")
        answer = self._call(
            ApiCall("delete", "pods", comp.namespace, name),
            lambda **kw: self.core.delete_namespaced_pod_with_http_info(
                name, comp.namespace, body=body, grace_period_seconds=grace, **kw
            ),
            fault=True,
        )
        data, headers = _data_and_headers(answer)
        # The kill time on the server's clock: the deletionTimestamp it set (which is the end of
        # the grace period), else its Date header. Both are whole seconds, like the Ready times
        # they are compared with.
        stamp = getattr(getattr(data, "metadata", None), "deletion_timestamp", None)
        if isinstance(stamp, datetime.datetime):
            return stamp.timestamp() - grace
        date = headers.get("Date") or headers.get("date")
        if date:
            return email.utils.parsedate_to_datetime(date).timestamp()
        return None

    def _wait_killed(self, component: str, uids: set[str], grace: int) -> None:
        # A force-deleted pod is gone at once; a graceful one is Terminating until its grace
        # period ends. Either way it no longer counts as a running replica.
        poll_until(
            lambda: [s for s in self.pod_snapshots(component) if s.uid in uids and not s.deleting],
            lambda alive: not alive,
            timeout=min(_KILL_SETTLE_SECONDS, grace + 10.0),
            interval=_POLL_SECONDS,
            give_up=lambda _: FaultFailed(
                f"pods of '{component}' still running after delete: {sorted(uids)}"
            ),
        )

    def stop(self, component: str) -> None:
        """Scale to 0, keeping the replica count in an annotation for `start`."""
        self._refuse_unless_allowed(component)
        workload = self.read_workload(component)
        replicas = workload.spec.replicas or 0
        annotations = workload.metadata.annotations or {}
        if replicas == 0 and STOPPED_REPLICAS in annotations:
            return
        self._patch_workload(
            component,
            {"metadata": {"annotations": {STOPPED_REPLICAS: str(replicas)}}},
            fault=True,
        )
        self.scale(component, 0)

    def start(self, component: str) -> None:
        """Undo a stop: scale back to the count kept by `stop` (no-op when not stopped)."""
        workload = self.read_workload(component)
        kept = (workload.metadata.annotations or {}).get(STOPPED_REPLICAS)
        if kept is None:
            return
        self.scale(component, int(kept))
        self._patch_workload(component, {"metadata": {"annotations": {STOPPED_REPLICAS: None}}})

    def reconcile(self, component: str, timeout: float = _RECONCILE_TIMEOUT_SECONDS) -> None:
        """Undo of a kill: controllers replace deleted pods; wait until the rollout is whole."""
        self.start(component)
        self.wait_until_ready(component, timeout=timeout)

    def restart(self, component: str) -> None:
        """`kubectl rollout restart`: the same patch kubectl sends."""
        self._refuse_unless_allowed(component)
        stamp = datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        self._patch_workload(component, body)

    def scale(self, component: str, replicas: int) -> None:
        """`kubectl scale --replicas=N` through the scale subresource."""
        if replicas < 0:
            raise InvalidDrill(f"cannot scale '{component}' to {replicas} replicas")
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        _, resource, name = self._workload_api(comp, "patch")
        call = ApiCall("patch", resource, comp.namespace, name, "apps", "scale")
        patch = (
            self.apps.patch_namespaced_deployment_scale
            if resource == "deployments"
            else self.apps.patch_namespaced_stateful_set_scale
        )
        body = {"spec": {"replicas": replicas}}
        self._call(call, lambda **kw: patch(name, comp.namespace, body, **kw))

    def rollout_complete(self, component: str) -> tuple[bool, str]:
        """`kubectl rollout status` for one look, then the pods themselves: done, and what it
        is waiting for.

        The workload's status lags its pods by a controller sync: right after a kill it can
        still count the deleted pods as ready. So the Ready, non-terminating pods behind the
        selector must also number at least spec.replicas.
        """
        done, detail = self._workload_rollout_complete(component)
        if not done:
            return done, detail
        status, ready_pods = self.observe(component)
        if len(ready_pods) < status.desired:
            return False, f"{len(ready_pods)} of {status.desired} pods Ready behind the selector"
        return True, detail

    def _workload_rollout_complete(self, component: str) -> tuple[bool, str]:
        workload = self.read_workload(component)
        comp = self.component(component)
        spec_replicas = workload.spec.replicas if workload.spec.replicas is not None else 1
        status = workload.status
        if (status.observed_generation or 0) < (workload.metadata.generation or 0):
            return False, "waiting for the controller to observe the new generation"
        updated = status.updated_replicas or 0
        ready = status.ready_replicas or 0
        if comp.workload_kind == "deployment":
            for condition in status.conditions or []:
                if (
                    condition.type == "Progressing"
                    and condition.reason == "ProgressDeadlineExceeded"
                ):
                    return False, f"rollout exceeded its progress deadline: {condition.message}"
            available = status.available_replicas or 0
            total = status.replicas or 0
            if updated < spec_replicas:
                return False, f"{updated} of {spec_replicas} new replicas updated"
            if total > updated:
                return False, f"{total - updated} old replicas pending termination"
            if available < updated:
                return False, f"{available} of {updated} updated replicas available"
            return True, f"{available} of {spec_replicas} replicas available"
        if ready < spec_replicas:
            return False, f"{ready} of {spec_replicas} pods ready"
        if status.update_revision and status.current_revision != status.update_revision:
            return False, f"{updated} of {spec_replicas} pods updated to the new revision"
        return True, f"{ready} of {spec_replicas} pods ready"

    def wait_until_ready(self, component: str, *, timeout: float) -> float:
        """`kubectl rollout status`, bounded by `timeout`; returns the seconds waited."""
        started = time.monotonic()

        def not_complete(rollout: tuple[bool, str]) -> RecoveryTimeout:
            comp = self.component(component)
            return RecoveryTimeout(
                f"rollout of {comp.workload} in namespace '{comp.namespace}' not complete "
                f"after {timeout:.1f}s: {rollout[1]}"
            )

        poll_until(
            lambda: self.rollout_complete(component),
            lambda rollout: rollout[0],
            timeout=timeout,
            since=started,
            interval=_POLL_SECONDS,
            give_up=not_complete,
        )
        return time.monotonic() - started

    def status(self, component: str) -> ComponentStatus:
        return self.observe(component)[0]

    def ready_pods(self, component: str) -> list[str]:
        """Names of the pods a Service would route to: Ready and not terminating."""
        return self.observe(component)[1]

    def observe(self, component: str) -> tuple[ComponentStatus, list[str]]:
        """The component's status and its Ready pods, from one list of pods (and one read of
        the workload): what the pod-readiness view answers every probe with."""
        comp = self.component(component)
        pods = self.pods(component)
        desired = self.desired_replicas(component) if comp.workload_kind else len(pods)
        snaps = [pod_snapshot(p) for p in pods]
        replicas = [_replica(component, p) for p in pods]
        ready = [s.name for s in snaps if s.ready and not s.deleting]
        status = ComponentStatus(
            component=component,
            desired=desired,
            running=sum(1 for r in replicas if r.running),
            ready=len(ready),
            replicas=tuple(replicas),
        )
        return status, ready

    def log_tail(self, component: str, *, lines: int = 100) -> dict[str, str]:
        comp = self.component(component)
        tails: dict[str, str] = {}
        for pod in self.pods(component):
            name = str(pod["metadata"]["name"])
            try:
                tails[name] = self._call(
                    ApiCall("get", "pods", comp.namespace, name, subresource="log"),
                    lambda name=name, **kw: self.core.read_namespaced_pod_log(
                        name, comp.namespace, tail_lines=lines, **kw
                    ),
                )
            except InvalidDrill as exc:  # simulated pods have no kubelet, hence no logs
                tails[name] = f"(no log: {exc})"
        return tails

    def apply_undo(self, action: UndoAction) -> None:
        if action.platform != self.name or action.verb not in self.UNDO_VERBS:
            raise InvalidDrill(f"kubernetes platform cannot execute undo {action.verb!r}")
        self._undoing = True
        try:
            getattr(self, action.verb)(**action.args)
        finally:
            self._undoing = False

    def repair_database_volume(self, component: str, stamp: str) -> None:
        """Undo of a damaged data file or a restore (drillbook.platforms.kube_database_volume)."""
        from drillbook.platforms.kube_database_volume import repair

        repair(self, component=component, stamp=stamp)

    # -- beyond the Protocol: the rest of the plan's kubectl commands ----------------------
    def set_env(
        self,
        component: str,
        env: Mapping[str, str | None],
        container: str | None = None,
        *,
        public: frozenset[str] = frozenset(),
    ) -> dict[str, str | None]:
        """`kubectl set env`: set (None: remove) variables of a container (default: the
        first), which rolls the workload's pods; returns the previous values. Wait with
        `wait_until_ready`. Every value is registered for redaction except those of the
        variables named in `public` (a provider's name such as "vault" registered as a secret
        would blank that word out of every report).

        The first change keeps the deployed env in a Secret beside the workload (env values can
        be secrets: never in an annotation, never on disk), for `reset_env`.
        """
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        containers = self.read_workload(component).spec.template.spec.containers
        index = self._container_index(component, containers, container)
        current = list(containers[index].env or [])
        backup = self._env_backup_name(comp)
        if not self._secret_exists(comp.namespace, backup):
            original = json.dumps({"container": index, "env": self._env_json(current)})
            self._create_secret(
                comp.namespace,
                backup,
                {"env.json": base64.b64encode(original.encode()).decode("ascii")},
                "Opaque",
                labels={"drillbook.dev/env-backup-of": str(comp.workload_name)},
            )
        by_name = {e.name: e for e in current}
        previous = {k: (by_name[k].value if k in by_name else None) for k in env}
        for name in set(env) - public:
            for value in (env[name], previous[name]):
                if value:
                    register_secret(value)
        # Variables not named keep their definition as it is (valueFrom included).
        updated = self._env_json([e for e in current if e.name not in env])
        updated += [{"name": k, "value": v} for k, v in env.items() if v is not None]
        self._replace_env(component, index, updated, had_env=containers[index].env is not None)
        return previous

    def reset_env(self, component: str) -> None:
        """Undo every set_env: back to the deployed env (kept by the first set_env), which rolls
        the pods again. As an undo it journals no values."""
        comp = self.component(component)
        backup = self._env_backup_name(comp)
        if not self._secret_exists(comp.namespace, backup):
            return
        data = self.read_secret(comp.namespace, backup)
        original = json.loads(base64.b64decode(data["env.json"]).decode())
        index = int(original["container"])
        containers = self.read_workload(component).spec.template.spec.containers
        self._replace_env(
            component, index, original["env"], had_env=containers[index].env is not None
        )
        self._call(
            ApiCall("delete", "secrets", comp.namespace, backup),
            lambda **kw: self.core.delete_namespaced_secret(backup, comp.namespace, **kw),
            fault=True,
        )

    def _env_json(self, env: Sequence[Any]) -> list[dict[str, Any]]:
        """Env entries as the API writes them (valueFrom, secretKeyRef...): the client models'
        to_dict() gives Python names (value_from), which the API server drops without a word,
        and a variable read from a Secret would lose its source."""
        api: Any = self.connection.api
        return [api.sanitize_for_serialization(e) for e in env]

    @staticmethod
    def _container_index(component: str, containers: Sequence[Any], name: str | None) -> int:
        for index, candidate in enumerate(containers):
            if name is None or candidate.name == name:
                return index
        names = ", ".join(c.name for c in containers)
        raise InvalidDrill(f"'{component}' has no container '{name}' (it has: {names})")

    def env(self, component: str) -> dict[str, str | None]:
        """The first container's env as the workload declares it (valueFrom shows as None)."""
        container = self.read_workload(component).spec.template.spec.containers[0]
        return {e.name: e.value for e in container.env or []}

    def _replace_env(
        self, component: str, index: int, env: list[dict[str, Any]], *, had_env: bool
    ) -> None:
        patch = [
            {
                "op": "replace" if had_env else "add",
                "path": f"/spec/template/spec/containers/{index}/env",
                "value": env,
            }
        ]
        self._patch_workload(component, patch, json_patch=True, fault=True)

    @staticmethod
    def _env_backup_name(comp: KubeComponent) -> str:
        return f"{comp.workload_name}-drillbook-env-backup"

    def _secret_exists(self, namespace: str, name: str) -> bool:
        found = self._call(
            ApiCall("list", "secrets", namespace),
            lambda **kw: self.core.list_namespaced_secret(
                namespace, field_selector=f"metadata.name={name}", **kw
            ),
        )
        return bool(found.items)

    def read_secret(self, namespace: str, name: str) -> dict[str, str]:
        """The Secret's data, base64 as stored; every decoded value is registered for redaction."""
        secret = self._call(
            ApiCall("get", "secrets", namespace, name),
            lambda **kw: self.core.read_namespaced_secret(name, namespace, **kw),
        )
        return _secret_data(secret.data)

    def delete_secret(self, namespace: str, name: str) -> str:
        """Delete a Secret, keeping a copy in the cluster (never on disk); returns its name."""
        if not self._undoing and self.allow.declared and namespace not in self.allow.namespaces:
            raise NotAllowed(
                f"namespace {namespace!r} is not in allow.namespaces: refused before deleting "
                f"Secret {name}"
            )
        secret = self._call(
            ApiCall("get", "secrets", namespace, name),
            lambda **kw: self.core.read_namespaced_secret(name, namespace, **kw),
            fault=True,
        )
        backup = name + SECRET_BACKUP_SUFFIX
        self._create_secret(
            namespace,
            backup,
            _secret_data(secret.data),
            secret.type,
            labels={"drillbook.dev/backup-of": name},
        )
        self._call(
            ApiCall("delete", "secrets", namespace, name),
            lambda **kw: self.core.delete_namespaced_secret(name, namespace, **kw),
            fault=True,
        )
        return backup

    def restore_secret(self, namespace: str, name: str, backup: str) -> None:
        """Re-create a deleted Secret from its in-cluster copy, then drop the copy."""
        copy = self._call(
            ApiCall("get", "secrets", namespace, backup),
            lambda **kw: self.core.read_namespaced_secret(backup, namespace, **kw),
            fault=True,
        )
        if not self._secret_exists(namespace, name):
            self._create_secret(namespace, name, _secret_data(copy.data), copy.type)
        self._call(
            ApiCall("delete", "secrets", namespace, backup),
            lambda **kw: self.core.delete_namespaced_secret(backup, namespace, **kw),
            fault=True,
        )

    def _create_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str],
        kind: str | None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=dict(labels or {})),
            data=dict(data),
            type=kind or "Opaque",
        )
        self._call(
            ApiCall("create", "secrets", namespace, name),
            lambda **kw: self.core.create_namespaced_secret(namespace, body, **kw),
            fault=True,
        )

    def secrets_provider(self, namespace: str, key: str = "value") -> Any:
        """The secrets drills' provider for Secrets in `namespace`, on this platform's client."""
        from drillbook.secrets.kubernetes import KubernetesSecretProvider

        return KubernetesSecretProvider(self.core, namespace=namespace, key=key)

    def events(self, component: str, *, since: float | None = None) -> list[dict[str, Any]]:
        """Events of the component's namespace (pods, ReplicaSets, the workload), oldest first."""
        comp = self.component(component)
        items = self._call(
            ApiCall("list", "events", comp.namespace),
            lambda **kw: self.core.list_namespaced_event(comp.namespace, **kw),
        ).items
        events = []
        for event in items:
            at = (
                event.event_time
                or event.last_timestamp
                or event.first_timestamp
                or (event.metadata.creation_timestamp)
            )
            when = _unix(at) or 0.0
            if since is not None and when < since - 1.0:
                continue
            obj = event.involved_object
            events.append(
                {
                    "at": when,
                    "type": event.type,
                    "reason": event.reason,
                    "object": f"{obj.kind}/{obj.name}",
                    "message": event.message,
                    "count": event.count,
                }
            )
        return sorted(events, key=lambda e: e["at"])

    def pod_conditions(self, component: str) -> dict[str, dict[str, tuple[str, float | None]]]:
        """Each pod's conditions: type -> (status, lastTransitionTime)."""
        result: dict[str, dict[str, tuple[str, float | None]]] = {}
        for pod in self.pods(component):
            conditions = pod.get("status", {}).get("conditions") or []
            result[str(pod["metadata"]["name"])] = {
                str(c["type"]): (str(c["status"]), _timestamp(c.get("lastTransitionTime")))
                for c in conditions
            }
        return result

    def for_context(self, context: str, settings: KubernetesSettings) -> KubernetesPlatform:
        """The same components on another kube context (the DR cluster)."""
        connection = connect(
            settings.kubeconfig, context, request_timeout=settings.request_timeout_seconds
        )
        return KubernetesPlatform(
            connection, self._components, kill_grace_period_seconds=self.kill_grace_period_seconds
        )


def _secret_data(data: Mapping[str, Any] | None) -> dict[str, str]:
    """A Secret's data as base64 text, each decoded value registered for redaction first."""
    result: dict[str, str] = {}
    for key, raw in (data or {}).items():
        encoded = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
        try:
            text = base64.b64decode(encoded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            text = ""
        if text:
            register_secret(text)
        result[key] = encoded
    return result


def _data_and_headers(answer: Any) -> tuple[Any, Mapping[str, str]]:
    # *_with_http_info returns (data, status, headers) or an ApiResponse, by client version.
    if isinstance(answer, tuple):
        return answer[0], dict(answer[2] or {})
    return getattr(answer, "data", None), dict(getattr(answer, "headers", None) or {})
