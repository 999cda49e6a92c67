"""Kubernetes Secrets through the `kubernetes` Python client (CoreV1Api).

The path is the Secret's name in the configured namespace; the value sits under one key of its
`data` (default `value`), base64-encoded as the API stores it. Kubernetes has no soft delete:
`delete` keeps the deleted Secret's data in this process's memory, and `restore` recreates it
from that copy (a run that died in between must restore from the cluster's own backups).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from drillbook.errors import (
    SecretAccessDenied,
    SecretNotFound,
    SecretProviderError,
    SecretProviderUnreachable,
)

_T = TypeVar("_T")
DEFAULT_KEY = "value"
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
        return base64.b64decode(encoded).decode("utf-8")

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

    def _create(self, path: str, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": path, "namespace": self.namespace},
            "type": "Opaque",
            "data": data,
        }
        self._call(path, "create", lambda: self._api.create_namespaced_secret(self.namespace, body))

    def delete(self, path: str) -> None:
        data = self._data(path)
        self._call(path, "delete", lambda: self._api.delete_namespaced_secret(path, self.namespace))
        self._deleted[path] = data

    def restore(self, path: str) -> None:
        data = self._deleted.get(path)
        if data is None:
            self._data(path)  # not deleted by us: fine if it exists, SecretNotFound if not
            return
        self._create(path, data)
        del self._deleted[path]
