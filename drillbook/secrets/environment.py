"""Environment variables as a secrets provider: the plan's Option A fallback (`JWT_SECRET`).

The path is the variable's name. The environment has no soft delete, so `delete` keeps the value
in this process's memory for `restore`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from drillbook.errors import SecretNotFound


class EnvironmentProvider:
    """Secrets in a mapping of environment variables (this process's own by default)."""

    name = "environment"

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self._environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self._deleted: dict[str, str] = {}

    def location(self, path: str) -> str:
        return f"${path}"

    def get(self, path: str) -> str:
        value = self._environ.get(path)
        if not value:
            raise SecretNotFound(
                self.name,
                self.location(path),
                f"the environment variable is not set; export {path} before the drill",
            )
        return value

    def put(self, path: str, value: str) -> None:
        self._environ[path] = value
        self._deleted.pop(path, None)

    def delete(self, path: str) -> None:
        value = self.get(path)
        self._deleted[path] = value
        del self._environ[path]

    def restore(self, path: str) -> None:
        if path in self._environ:
            return
        value = self._deleted.pop(path, None)
        if value is None:
            raise SecretNotFound(
                self.name,
                self.location(path),
                "not set and not deleted by this process: there is nothing to restore",
            )
        self._environ[path] = value
