"""The notes service with exactly one defect: it reads its JWT secret once, at start-up, from Vault.

A secret rotated in Vault afterwards changes nothing in a running replica: tokens signed with the
new secret are refused and tokens signed with the old one still accepted (even once it has been
revoked) until the replica is restarted: the secret-needs-restart finding (the secrets drill
"Scheduled rotation: taken up without a restart"). Everything else is the notes service
(tests/services/notes_service.py) unchanged.

    python -m tests.services.secret_notes --port 8080

Environment, beside the notes service's own (whose NOTES_JWT_SECRET is not read: the secret
comes from Vault):

    NOTES_VAULT_ADDR        Vault's (OpenBao's) address, e.g. http://127.0.0.1:8200 (required)
    NOTES_VAULT_TOKEN_FILE  a file holding the Vault token to read with (required)
    NOTES_JWT_PATH          the secret's KV v2 path under the mount (default
                            "eleanor/prod/jwt-secret")
    NOTES_VAULT_MOUNT       the KV v2 mount (default "secret")
    NOTES_VAULT_FIELD       the field holding the value (default "value")
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.services import notes_service

DEFAULT_JWT_PATH = "eleanor/prod/jwt-secret"
START_UP_PATIENCE_SECONDS = 15.0
"""How long start-up waits for Vault to answer (it may start beside the service)."""
RETRY_SECONDS = 0.5


class VaultUnavailable(Exception):
    """Vault did not serve the secret; the message names the path, never a value."""


def read_jwt_secret(env: Mapping[str, str]) -> str:
    """The JWT secret from Vault's KV v2, read with the token in NOTES_VAULT_TOKEN_FILE."""
    missing = [name for name in ("NOTES_VAULT_ADDR", "NOTES_VAULT_TOKEN_FILE") if not env.get(name)]
    if missing:
        raise SystemExit(f"secret notes: set {', '.join(missing)} in the environment")
    mount = (env.get("NOTES_VAULT_MOUNT") or "secret").strip("/")
    path = (env.get("NOTES_JWT_PATH") or DEFAULT_JWT_PATH).strip("/")
    field = env.get("NOTES_VAULT_FIELD") or "value"
    url = f"{env['NOTES_VAULT_ADDR'].rstrip('/')}/v1/{mount}/data/{path}"
    token = Path(env["NOTES_VAULT_TOKEN_FILE"]).read_text(encoding="utf-8").strip()
    try:
        response = httpx.get(url, headers={"X-Vault-Token": token}, timeout=2.0)
    except httpx.HTTPError as exc:
        raise VaultUnavailable(f"{mount}/{path}: no answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise VaultUnavailable(f"{mount}/{path}: HTTP {response.status_code}")
    value = ((response.json().get("data") or {}).get("data") or {}).get(field)
    if not isinstance(value, str) or not value:
        raise VaultUnavailable(f"{mount}/{path}: no string field '{field}'")
    return value


def read_jwt_secret_at_start_up(env: Mapping[str, str]) -> str:
    """`read_jwt_secret`, with a start-up's patience; never again afterwards (the defect)."""
    deadline = time.monotonic() + START_UP_PATIENCE_SECONDS
    while True:
        try:
            return read_jwt_secret(env)
        except VaultUnavailable as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"secret notes: the JWT secret could not be read: {exc}") from None
        time.sleep(RETRY_SECONDS)


def main(argv: list[str] | None = None) -> None:
    # Read once and handed to the notes service as if it were its NOTES_JWT_SECRET: the value
    # is fixed for the life of the process, whatever Vault serves later.
    os.environ["NOTES_JWT_SECRET"] = read_jwt_secret_at_start_up(os.environ)
    notes_service.main(argv)


if __name__ == "__main__":
    main()
