"""Kubernetes Secrets through the `kubernetes` Python client (CoreV1Api).

The path is the Secret's name in the configured namespace; the value sits under one key of its
`data` (default `value`), base64-encoded as the API stores it. Kubernetes has no soft delete:
`delete` first keeps a copy of the Secret in the cluster (`<name>-drillbook-backup`, labelled
drillbook.dev/backup-of; never on disk), so that `restore`, and the undo of a drill that
deleted or revoked it (`put_back_secret`, journaled as data), work from any process, also after
a run that died in between.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from drillbook.core.redaction import register_secret
from drillbook.core.undo_handlers import undo_handler
from drillbook.errors import (
    InvalidDrill,
    SecretAccessDenied,
    SecretNotFound,
    SecretProviderError,
    SecretProviderUnreachable,
)

_T = TypeVar("_T")
DEFAULT_KEY = "value"
BACKUP_SUFFIX = "-drillbook-backup"
"""The in-cluster copy of a deleted Secret (as KubernetesPlatform.delete_secret names it)."""
BACKUP_LABEL = "drillbook.dev/backup-of"
ROLLOUT_TIMEOUT_SECONDS = 300.0
"""How long the undo waits for the pods rolled onto a put-back Secret."""
_NOT_FOUND = 404
_DENIED = (401, 403)


class KubernetesSecretProvider:
    """One key of Secrets in one namespace, through a CoreV1Api (`kubernetes.client`)."""

    name = "kubernetes"

    def __init__(self, api: Any, *, namespace: str, key: str = DEFAULT_KEY) -> None:
        """`api` is a `kubernetes.client.CoreV1Api` (built by the Kubernetes platform)."""
        self._api = api
        self.namespace = namespace
        self.key = key
        self._deleted: dict[str, dict[str, str]] = {}

    def location(self, path: str) -> str:
        return f"{self.namespace}/secret/{path}#{self.key}"

    def _call(self, path: str, operation: str, action: Callable[[], _T]) -> _T:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = self.location(path)
        try:
            return action()
        except ApiException as exc:
            if exc.status == _NOT_FOUND:
                raise SecretNotFound(
                    self.name,
                    where,
                    f"{operation}: no such Secret (kubectl get secret {path} -n {self.namespace})",
                ) from None
            if exc.status in _DENIED:
                raise SecretAccessDenied(
                    self.name,
                    where,
                    f"{operation}: HTTP {exc.status}: the service account's token is wrong or "
                    "its RBAC role does not allow it (kubectl auth can-i get secrets)",
                ) from None
            raise SecretProviderError(
                self.name, where, f"{operation}: HTTP {exc.status} {exc.reason}"
            ) from None
        except HTTPError as exc:
            raise SecretProviderUnreachable(
                self.name,
                where,
                f"{operation}: the API server does not answer ({type(exc).__name__})",
            ) from None

    def _data(self, path: str) -> dict[str, str]:
        secret = self._call(
            path, "read", lambda: self._api.read_namespaced_secret(path, self.namespace)
        )
        return dict(secret.data or {})

    def get(self, path: str) -> str:
        encoded = self._data(path).get(self.key)
        if encoded is None:
            raise SecretNotFound(
                self.name, self.location(path), f"the Secret has no key '{self.key}'"
            )
        value = base64.b64decode(encoded).decode("utf-8")
        register_secret(value)
        return value

    def put(self, path: str, value: str) -> None:
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        body = {"data": {self.key: encoded}}
        try:
            self._call(
                path,
                "patch",
                lambda: self._api.patch_namespaced_secret(path, self.namespace, body),
            )
        except SecretNotFound:
            self._create(path, {self.key: encoded})
        self._deleted.pop(path, None)

    def _create(
        self, path: str, data: dict[str, str], labels: dict[str, str] | None = None
    ) -> None:
        metadata: dict[str, Any] = {"name": path, "namespace": self.namespace}
        if labels:
            metadata["labels"] = labels
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": "Opaque",
            "data": data,
        }
        self._call(path, "create", lambda: self._api.create_namespaced_secret(self.namespace, body))

    def delete(self, path: str) -> None:
        data = self._data(path)
        if self._copy(path) is None:  # the first delete's copy is the original: keep it
            self._create(path + BACKUP_SUFFIX, data, labels={BACKUP_LABEL: path})
        self._call(path, "delete", lambda: self._api.delete_namespaced_secret(path, self.namespace))
        self._deleted[path] = data

    def restore(self, path: str) -> None:
        """Undelete: re-create the Secret from the copy its delete kept, then drop the copy."""
        data = self._deleted.get(path) or self._copy(path)
        if data is None:
            self._data(path)  # not deleted by us: fine if it exists, SecretNotFound if not
            return
        if not self._exists(path):
            self._create(path, data)
        self._drop_copy(path)
        self._deleted.pop(path, None)

    def put_back(self, path: str) -> str | None:
        """The Secret as it was before a drill deleted it: re-created from the kept copy, or, if
        it was written anew since (a rotation), its data replaced by the copy's. Returns
        "recreated", "replaced", "unchanged", or None when no copy was kept (nothing to put
        back)."""
        data = self._copy(path)
        if data is None:
            return None
        if not self._exists(path):
            self._create(path, data)
            how = "recreated"
        elif self._data(path) != data:
            patch = [{"op": "replace", "path": "/data", "value": data}]
            self._call(
                path,
                "replace",
                lambda: self._api.patch_namespaced_secret(
                    path, self.namespace, patch, _content_type="application/json-patch+json"
                ),
            )
            how = "replaced"
        else:
            how = "unchanged"
        self._drop_copy(path)
        self._deleted.pop(path, None)
        return how

    def _exists(self, path: str) -> bool:
        try:
            self._data(path)
        except SecretNotFound:
            return False
        return True

    def _copy(self, path: str) -> dict[str, str] | None:
        """The data of the copy kept in the cluster, None without one."""
        try:
            return self._data(path + BACKUP_SUFFIX)
        except SecretNotFound:
            return None

    def _drop_copy(self, path: str) -> None:
        backup = path + BACKUP_SUFFIX
        with contextlib.suppress(SecretNotFound):  # already gone: nothing left to drop
            self._call(
                backup, "delete", lambda: self._api.delete_namespaced_secret(backup, self.namespace)
            )


@undo_handler
def put_back_secret(
    platform: Any, *, namespace: str, name: str, key: str, component: str | None = None
) -> None:
    """Undo of a deleted or revoked Kubernetes Secret: put back as it was, from the copy kept
    in the cluster. Pods read a Secret only when they start, so when its data was replaced (it
    had been rotated) the pods of `component` are restarted onto it and waited for."""
    provider = getattr(platform, "secrets_provider", None)
    if provider is None:
        raise InvalidDrill(
            f"putting back Secret {namespace}/{name} needs the Kubernetes platform, not "
            f"'{getattr(platform, 'name', platform)}'"
        )
    how = provider(namespace, key).put_back(name)
    if how == "replaced" and component:
        platform.restart(component)
        platform.wait_until_ready(component, timeout=ROLLOUT_TIMEOUT_SECONDS)
