"""The interface every secrets provider implements, and the error mapping they share."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SecretProvider(Protocol):
    """One secrets backend as a drill drives it: read, write, delete and undo the delete.

    A `path` is the secret's name in the provider's own terms: `eleanor/prod/jwt-secret` in AWS
    Secrets Manager and in Vault's KV v2 mount, a Secret's name on Kubernetes, a variable's name
    in the environment.
    """

    name: str
    """The provider's kind: "environment", "kubernetes", "aws" or "vault"."""

    def location(self, path: str) -> str:
        """The secret as the plan's commands name it, e.g. `secret/eleanor/prod/jwt-secret`."""
        ...

    def get(self, path: str) -> str:
        """The secret's current value; SecretNotFound when it is missing or deleted."""
        ...

    def put(self, path: str, value: str) -> None:
        """Write a new value (a new version where the provider keeps versions); creates it."""
        ...

    def delete(self, path: str) -> None:
        """Delete the secret in the provider's most recoverable way (recovery window, soft
        delete, or a copy kept in memory where the provider has neither)."""
        ...

    def restore(self, path: str) -> None:
        """Undo `delete`; a no-op when the secret is not deleted."""
        ...
