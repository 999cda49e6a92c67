"""Turning what the Kubernetes API (or the kubeconfig) says into one clear drillbook error.

Every call the Kubernetes platform makes goes through `explain`, so that a refused call reads

    the Kubernetes API refused 'delete pods' in namespace 'eleanor-v8' for user
    'system:serviceaccount:drills:runner' (HTTP 403 Forbidden). Fix: add this rule to the Role
    the user is bound to in namespace 'eleanor-v8': {apiGroups: [""], resources: ["pods"],
    verbs: ["delete"]}

instead of a traceback through the client. The verb, the resource and the namespace are the
ones drillbook asked for, not parsed out of the server's text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from drillbook.errors import DrillError, FaultFailed, InvalidDrill, TargetUnreachable

_USER = re.compile(r'User "(?P<user>[^"]+)"')


class KubernetesAccessDenied(InvalidDrill):
    """RBAC refused a call; the message names the verb, resource, namespace and the fix."""


class KubernetesNotFound(InvalidDrill):
    """A namespace or workload the configuration names does not exist."""


@dataclass(frozen=True)
class ApiCall:
    """What drillbook was asking the API server for, in RBAC's own words."""

    verb: str
    """get, list, watch, create, update, patch, delete."""
    resource: str
    """pods, deployments, statefulsets, secrets, events, ..."""
    namespace: str | None
    name: str | None = None
    group: str = ""
    """The API group ("" for the core group, "apps" for Deployments and StatefulSets)."""
    subresource: str | None = None

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        target = self.rbac_resource + (f" {self.name}" if self.name else "")
        where = f" in namespace '{self.namespace}'" if self.namespace else " (cluster scope)"
        return f"'{self.verb} {target}'{where}"

    def missing_rule(self) -> str:
        return (
            f'{{apiGroups: ["{self.group}"], resources: ["{self.rbac_resource}"], '
            f'verbs: ["{self.verb}"]}}'
        )


def _server_message(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            document = json.loads(body)
        except ValueError:
            return body.strip()[:300]
        if isinstance(document, dict):
            return str(document.get("message", "")).strip()[:300]
    return ""


def access_denied_message(call: ApiCall, server_message: str) -> str:
    user = _USER.search(server_message)
    who = f" for user '{user['user']}'" if user else ""
    scope = (
        f"the Role the user is bound to in namespace '{call.namespace}' (or a ClusterRole)"
        if call.namespace
        else "a ClusterRole bound to the user"
    )
    return (
        f"the Kubernetes API refused {call.describe()}{who} (HTTP 403 Forbidden). "
        f"Fix: add this rule to {scope}: {call.missing_rule()}"
    )


def explain(
    call: ApiCall, status: int | None, body: object, *, context: str, fault: bool = False
) -> DrillError:
    """One DrillError for a failed API call; `fault` marks calls made while a drill runs."""
    message = _server_message(body)
    if status == 403:
        return KubernetesAccessDenied(access_denied_message(call, message))
    if status == 404:
        what = call.describe()
        if call.namespace and call.name is None:
            return KubernetesNotFound(
                f"{what} found nothing: namespace '{call.namespace}' does not exist in kube "
                f"context '{context}' ({message or 'HTTP 404'}). Fix: create the namespace "
                f"(kubectl create namespace {call.namespace}) and deploy the workload, or "
                "correct target.components.*.namespace in the configuration"
            )
        return KubernetesNotFound(
            f"{what}: not found in kube context '{context}' ({message or 'HTTP 404'}). Fix: "
            "deploy it, or correct target.components.*.workload / namespace in the configuration"
        )
    if status == 401:
        return TargetUnreachable(
            f"the Kubernetes API of kube context '{context}' did not accept drillbook's "
            f"credentials for {call.describe()} (HTTP 401 Unauthorized: {message}). Fix: renew "
            "the credentials in the kubeconfig (an expired token or certificate)"
        )
    if status is None or status == 0:
        return TargetUnreachable(
            f"the Kubernetes API of kube context '{context}' cannot be reached for "
            f"{call.describe()}: {message or 'no answer'}. Fix: check that the cluster is up "
            "and that the kubeconfig's server address is right (kubectl cluster-info)"
        )
    kind = FaultFailed if fault else InvalidDrill
    return kind(
        f"the Kubernetes API answered {call.describe()} in kube context '{context}' with "
        f"HTTP {status}: {message or 'no message'}"
    )
