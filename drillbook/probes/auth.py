"""Bearer tokens for probes that call authenticated endpoints.

The secret is read from the environment variable the configuration names (never from the file),
registered with the redactor so that it cannot leak into reports, and tokens are re-issued
before they expire.
"""

from __future__ import annotations

import os
import threading
import time

import jwt

from drillbook.config.model import AuthSettings
from drillbook.core.redaction import register_secret
from drillbook.errors import ConfigError

_TOKEN_TTL_SECONDS = 300
_RENEW_MARGIN_SECONDS = 60


class TokenProvider:
    """Issues HS256 tokens with the target's secret; `None` settings mean no auth."""

    def __init__(self, settings: AuthSettings, *, secret: str | None = None) -> None:
        self._settings = settings
        self._secret = secret
        self._lock = threading.Lock()
        self._rotated = threading.Condition(self._lock)
        self._generation = 0
        """How many rotations so far: what `wait_for_rotation` compares with."""
        self._token: str | None = None
        self._expires_at = 0.0
        if secret:
            register_secret(secret)

    @property
    def enabled(self) -> bool:
        return self._settings.kind == "jwt"

    def _resolve_secret(self) -> str:
        if self._secret:
            return self._secret
        value = os.environ.get(self._settings.secret_env, "")
        if not value:
            raise ConfigError(
                f"target.auth: the JWT secret is read from the environment variable "
                f"'{self._settings.secret_env}', which is not set; export it before the drill "
                f'(or set target.auth.kind = "none" for a target without auth)'
            )
        register_secret(value)
        self._secret = value
        return value

    def rotate(self, secret: str) -> None:
        """Sign with `secret` from now on (after the target's secret was rotated); the token
        signed with the old one is dropped at once."""
        register_secret(secret)
        with self._lock:
            self._secret = secret
            self._token = None
            self._expires_at = 0.0
            self._generation += 1
            self._rotated.notify_all()

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def wait_for_rotation(self, seen: int, timeout: float) -> int:
        """Block until a rotation after generation `seen`, or `timeout` seconds; the generation
        now. Clients that copy the token elsewhere (the load's processes) take a rotated one up
        at the moment the probes do, instead of sending the old one, refused, until their next
        poll: in a recovery that ends with re-issued tokens that lag was a burst of 401s."""
        with self._rotated:
            self._rotated.wait_for(lambda: self._generation != seen, timeout)
            return self._generation

    def token(self) -> str | None:
        if not self.enabled:
            return None
        with self._lock:
            now = time.time()
            if self._token is None or now > self._expires_at - _RENEW_MARGIN_SECONDS:
                claims = {
                    "sub": self._settings.subject,
                    "iat": int(now),
                    "exp": int(now) + _TOKEN_TTL_SECONDS,
                    "roles": list(self._settings.roles),
                    "scopes": list(self._settings.scopes),
                }
                self._token = jwt.encode(
                    claims, self._resolve_secret(), algorithm=self._settings.algorithm
                )
                register_secret(self._token)
                self._expires_at = now + _TOKEN_TTL_SECONDS
            return self._token

    def headers(self) -> dict[str, str]:
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}
