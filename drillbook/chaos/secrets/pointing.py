"""The application pointed at the secrets provider an experiment drills, before its baseline,
as a deployment configured for that provider would be (the pytest drills' `secret_store`
fixture does the same): the plan's `kubectl set env`, journaled first, put back afterwards."""

from __future__ import annotations

from drillbook.chaos.session import ChaosSession
from drillbook.errors import InvalidDrill
from drillbook.scenarios.secrets.pointing import AppPointer
from drillbook.scenarios.secrets.stores import open_secret_stores
from drillbook.secrets.store import SecretStore

STORE_KEY = "secret_store"


def store_of(session: ChaosSession) -> SecretStore:
    """The provider the experiment drills (its control's `secrets_provider`)."""
    store = session.memo.get(STORE_KEY)
    if not isinstance(store, SecretStore):
        raise InvalidDrill(
            "this activity needs the secrets provider under drill: give the drillbook control "
            'the argument "secrets_provider" (e.g. "vault" or "aws")'
        )
    return store


def point_app_at(session: ChaosSession, provider: str) -> SecretStore:
    """Point the application at `provider` (unless it is already) and wait until it has loaded
    its secrets from there; the way back is journaled and put back after the drill."""
    target = session.target
    stores = open_secret_stores(target.config, stack=target.stack, platform=target.platform)
    store = stores.store(provider)
    session.memo[STORE_KEY] = store
    pointer = AppPointer(target)

    def put_back() -> None:
        try:
            pointer.restore()
        finally:
            if target.stack is not None:
                # A drill that rotated the secret the probes sign with had it put back by its
                # undo: sign with the seeded one again.
                target.tokens.rotate(target.stack.jwt_secret)

    session.cleanups.append(put_back)
    pointer.point(store)
    return store
