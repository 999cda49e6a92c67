"""AWS Secrets Manager through boto3 (moto server on the embedded stack, AWS itself elsewhere).

The secret `eleanor/prod/jwt-secret` holds the value as its SecretString, as the plan's
`aws secretsmanager get-secret-value --query SecretString` reads it. Deleting uses a recovery
window (the default, and what an operator does by mistake); `restore` is `restore-secret`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from drillbook.core.polling import poll_until
from drillbook.errors import (
    SecretAccessDenied,
    SecretNotFound,
    SecretProviderError,
    SecretProviderUnreachable,
)

_T = TypeVar("_T")
DEFAULT_RECOVERY_WINDOW_DAYS = 7
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)


class AwsSecretsManagerProvider:
    """Secrets in one region (and, for moto or a VPC endpoint, at one endpoint URL)."""

    name = "aws"

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS,
        timeout_seconds: float = 2.0,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.recovery_window_days = recovery_window_days
        self._timeout = timeout_seconds
        self._credentials = dict(credentials or {})

    def location(self, path: str) -> str:
        return path

    def _client(self) -> Any:
        config = Config(
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            retries={"total_max_attempts": 2, "mode": "standard"},
        )
        return boto3.session.Session(**self._credentials).client(
            "secretsmanager",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=config,
        )

    def _where(self) -> str:
        return self.endpoint_url or f"Secrets Manager in {self.region}"

    def _call(self, path: str, operation: str, action: Callable[[Any], _T]) -> _T:
        try:
            return action(self._client())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "ResourceNotFoundException":
                raise SecretNotFound(
                    self.name,
                    path,
                    f"{operation}: no such secret (check the name with `aws secretsmanager "
                    f"list-secrets`)",
                ) from None
            if code == "InvalidRequestException" and "delet" in message.lower():
                raise SecretNotFound(
                    self.name,
                    path,
                    f"{operation}: the secret is scheduled for deletion; restore it within its "
                    f"recovery window: aws secretsmanager restore-secret --secret-id {path}",
                ) from None
            if code in _DENIED:
                raise SecretAccessDenied(
                    self.name,
                    path,
                    f"{operation}: {code}: the credentials are wrong or lack permission "
                    "(check the IAM policy of the role reading the secret)",
                ) from None
            raise SecretProviderError(self.name, path, f"{operation}: {code}") from None
        except EndpointConnectionError:
            raise SecretProviderUnreachable(
                self.name,
                path,
                f"{operation}: no answer from {self._where()}; is the endpoint right and up?",
            ) from None
        except BotoCoreError as exc:
            raise SecretProviderUnreachable(
                self.name, path, f"{operation}: {type(exc).__name__} talking to {self._where()}"
            ) from None

    def get(self, path: str) -> str:
        response = self._call(path, "get-secret-value", lambda c: c.get_secret_value(SecretId=path))
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise SecretNotFound(self.name, path, "the secret has no SecretString (binary only)")
        return value

    def put(self, path: str, value: str) -> None:
        try:
            self._call(
                path,
                "put-secret-value",
                lambda c: c.put_secret_value(SecretId=path, SecretString=value),
            )
        except SecretNotFound as exc:
            if "scheduled for deletion" in str(exc):
                raise
            self._call(
                path, "create-secret", lambda c: c.create_secret(Name=path, SecretString=value)
            )

    def delete(self, path: str) -> None:
        self._call(
            path,
            "delete-secret",
            lambda c: c.delete_secret(
                SecretId=path, RecoveryWindowInDays=self.recovery_window_days
            ),
        )

    def restore(self, path: str) -> None:
        description = self.describe(path)
        if description.get("DeletedDate") is None:
            return
        self._call(path, "restore-secret", lambda c: c.restore_secret(SecretId=path))

    def replace(self, path: str, value: str, *, timeout_seconds: float = 30.0) -> None:
        """A new value that the old one can never come back over: a secret awaiting deletion is
        deleted for good (no recovery) and created anew, because restoring it first would serve
        the old value again, however briefly (a leaked one, say)."""
        try:
            scheduled = self.describe(path).get("DeletedDate") is not None
        except SecretNotFound:
            scheduled = False
        if not scheduled:
            self.put(path, value)
            return
        self._call(
            path,
            "delete-secret --force-delete-without-recovery",
            lambda c: c.delete_secret(SecretId=path, ForceDeleteWithoutRecovery=True),
        )

        # AWS frees the name a few seconds after a forced deletion (moto at once): bounded retry.
        def create() -> SecretProviderError | None:
            try:
                self._call(
                    path, "create-secret", lambda c: c.create_secret(Name=path, SecretString=value)
                )
            except SecretProviderError as exc:
                return exc
            return None

        poll_until(
            create,
            lambda error: error is None,
            timeout=timeout_seconds,
            interval=0.5,
            give_up=_the_last_error,
        )

    def describe(self, path: str) -> dict[str, Any]:
        """The plan's `aws secretsmanager describe-secret` (metadata, never the value)."""
        result: dict[str, Any] = self._call(
            path, "describe-secret", lambda c: c.describe_secret(SecretId=path)
        )
        return result


def _the_last_error(error: SecretProviderError | None) -> SecretProviderError:
    """What a retry that never succeeded raises: its last error."""
    assert error is not None
    return error
