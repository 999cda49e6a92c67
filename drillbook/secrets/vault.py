"""HashiCorp Vault (or OpenBao, which speaks the same HTTP API): KV version 2, through hvac.

A secret lives at `<mount>/<path>` (the plan's `secret/eleanor/prod/jwt-secret`) in the field
`value`, as ELEANOR V8 reads it. Deleting is KV v2's soft delete of the current version, which
`restore` undoes (`vault kv undelete`). The token helpers (issue, revoke, check) exist because
"the application's access revoked" is one of the plan's failures: a drill revokes the token the
application reads secrets with, and the runbook issues a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from drillbook.errors import (
    SecretAccessDenied,
    SecretNotFound,
    SecretProviderError,
    SecretProviderUnreachable,
)

_T = TypeVar("_T")
DEFAULT_MOUNT = "secret"
DEFAULT_FIELD = "value"


def _upgrading(exc: hvac.exceptions.VaultError) -> str:
    # Only whether the server said it is upgrading: the body of other errors is not quoted.
    upgrading = any("upgrading" in str(e).lower() for e in (exc.errors or []))
    return "mount upgrading to KV version 2" if upgrading else "refused"


class VaultKvProvider:
    """KV v2 secrets on one Vault/OpenBao server, with one token."""

    name = "vault"

    def __init__(
        self,
        address: str,
        token: str,
        *,
        mount: str = DEFAULT_MOUNT,
        field: str = DEFAULT_FIELD,
        timeout_seconds: float = 2.0,
    ) -> None:
        self.address = address.rstrip("/")
        self.mount = mount.strip("/")
        self.field = field
        self._token = token
        self._timeout = timeout_seconds

    def location(self, path: str) -> str:
        return f"{self.mount}/{path}"

    def _client(self, token: str | None = None) -> hvac.Client:
        # A client per call: cheap, and safe from the drill's several threads.
        return hvac.Client(url=self.address, token=token or self._token, timeout=self._timeout)

    def _call(self, path: str, operation: str, action: Callable[[hvac.Client], _T]) -> _T:
        where = self.location(path)
        try:
            return action(self._client())
        except hvac.exceptions.Forbidden:
            raise SecretAccessDenied(
                self.name,
                where,
                f"{operation}: permission denied by {self.address}; the token is wrong, "
                "expired or revoked, or its policy does not cover this path (check the token "
                "with `vault token lookup` and its policy)",
            ) from None
        except hvac.exceptions.InvalidPath:
            raise SecretNotFound(
                self.name,
                where,
                f"{operation}: no readable secret there (missing, deleted or destroyed); "
                f"check the name with `vault kv metadata get {where}`",
            ) from None
        except (hvac.exceptions.VaultDown, hvac.exceptions.VaultNotInitialized):
            raise SecretProviderUnreachable(
                self.name, where, f"{operation}: {self.address} is sealed or not initialised"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise SecretProviderUnreachable(
                self.name,
                where,
                f"{operation}: no answer from {self.address} ({type(exc).__name__}); is the "
                "server running and the address right?",
            ) from None
        except hvac.exceptions.VaultError as exc:
            # hvac's message may quote the response body; name only the kind of error.
            raise SecretProviderError(
                self.name, where, f"{operation} failed: {type(exc).__name__} from {self.address}"
            ) from None

    def wait_until_mount_usable(self, *, timeout_seconds: float) -> None:
        """Wait until the KV mount answers. A dev server mounts `secret/` as KV version 1 and
        upgrades it to version 2 in the background after it reports healthy; until that is
        done every request to the mount is refused with HTTP 400 ("Upgrading from
        non-versioned to versioned data"), so a seed written at once fails now and then."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                self._client().secrets.kv.v2.read_configuration(mount_point=self.mount)
                return
            except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath) as exc:
                # InvalidPath: the mount is not there yet (a dev server still starting).
                last = f"{type(exc).__name__} ({_upgrading(exc)})"
            except requests.exceptions.RequestException as exc:
                last = type(exc).__name__
            if time.monotonic() >= deadline:
                raise SecretProviderUnreachable(
                    self.name,
                    self.mount,
                    f"the KV mount '{self.mount}' of {self.address} was not usable within "
                    f"{timeout_seconds:.0f} s (last: {last}); is it a KV version 2 mount?",
                )
            time.sleep(0.1)

    def get(self, path: str) -> str:
        response = self._call(
            path,
            "read",
            lambda c: c.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True
            ),
        )
        data = (response.get("data") or {}).get("data") or {}
        value = data.get(self.field)
        if not isinstance(value, str):
            raise SecretNotFound(
                self.name,
                self.location(path),
                f"the secret has no string field '{self.field}' (fields: {sorted(data)})",
            )
        return value

    def put(self, path: str, value: str) -> None:
        self._call(
            path,
            "write",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=path, secret={self.field: value}, mount_point=self.mount
            ),
        )

    def delete(self, path: str) -> None:
        self._call(
            path,
            "delete",
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(
                path=path, mount_point=self.mount
            ),
        )

    def restore(self, path: str) -> None:
        metadata = self._call(
            path,
            "read metadata",
            lambda c: c.secrets.kv.v2.read_secret_metadata(path=path, mount_point=self.mount),
        )
        current = int(metadata["data"]["current_version"])
        version: dict[str, Any] = metadata["data"]["versions"].get(str(current), {})
        if version.get("destroyed"):
            raise SecretNotFound(
                self.name,
                self.location(path),
                f"version {current} is destroyed and cannot be undeleted; write a new value",
            )
        if not version.get("deletion_time"):
            return
        self._call(
            path,
            "undelete",
            lambda c: c.secrets.kv.v2.undelete_secret_versions(
                path=path, versions=[current], mount_point=self.mount
            ),
        )

    # -- tokens: the application's access -------------------------------------------------
    def write_policy(self, name: str, paths: Iterable[str]) -> None:
        """A read-only policy over the data of `paths` (what the application needs)."""
        rules = "\n".join(
            f'path "{self.mount}/data/{p}" {{ capabilities = ["read"] }}' for p in paths
        )
        self._call("", "write policy", lambda c: c.sys.create_or_update_policy(name, rules))

    def issue_token(self, policy: str, *, ttl: str = "24h") -> str:
        """`vault token create -policy=...`: a new orphan token for the application."""
        response = self._call(
            "",
            "create token",
            lambda c: c.auth.token.create(policies=[policy], ttl=ttl, no_parent=True),
        )
        return str(response["auth"]["client_token"])

    def revoke_token(self, token: str) -> None:
        """`vault token revoke`: the token stops working at once."""
        self._call("", "revoke token", lambda c: c.auth.token.revoke(token))

    def token_valid(self, token: str) -> bool:
        """Whether `token` is still accepted (a lookup of itself)."""
        try:
            self._client(token).auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return False
        except requests.exceptions.RequestException as exc:
            raise SecretProviderUnreachable(
                self.name, "auth/token/lookup-self", f"no answer ({type(exc).__name__})"
            ) from None
        return True

    def sealed(self) -> bool:
        """`vault status`: True when sealed; SecretProviderUnreachable when it does not answer."""
        try:
            return bool(self._client().sys.read_seal_status()["sealed"])
        except requests.exceptions.RequestException as exc:
            raise SecretProviderUnreachable(
                self.name,
                "sys/seal-status",
                f"no answer from {self.address} ({type(exc).__name__})",
            ) from None
