"""Probes of scenario 5 (secrets management failure): the plan's verification (secret
retrieval, authentication, LLM API calls), and the revoked secret refused."""

from drillbook.chaos.activity import phase
from drillbook.chaos.secrets.pointing import store_of
from drillbook.chaos.secrets.values import APP_PROVIDER_KEY, leaked_secret, valid_secret
from drillbook.chaos.session import current
from drillbook.chaos.steps import check
from drillbook.engine.reach import service_checks, stand_in_checks
from drillbook.errors import InvalidDrill
from drillbook.scenarios.secrets import checks

__all__ = [
    "authentication_works",
    "outbound_calls_work",
    "revoked_secret_rejected",
    "secret_retrieval",
    "secret_served",
]


@phase("verify")
def secret_retrieval() -> bool:
    """The service loads its secrets from where it should: the provider, or its environment
    after Option A's fallback."""
    session = current()
    store = store_of(session)
    provider = str(session.memo.get(APP_PROVIDER_KEY) or store.app_provider)
    found = checks.secret_retrieval(store, app_provider=provider)
    return check(session, *service_checks(session.drill, *stand_in_checks(session.drill, found)))


@phase("verify")
def secret_served() -> bool:
    """The provider serves the secret again (and not a revoked value); true where the service
    left the provider for its environment (Option A)."""
    session = current()
    if session.memo.get(APP_PROVIDER_KEY) == "env":
        return True
    store = store_of(session)
    return check(session, checks.secret_served(store, revoked=leaked_secret(session)))


@phase("verify")
def authentication_works() -> bool:
    """A token signed with the valid secret gets in; one signed with a revoked secret not."""
    session = current()
    store = store_of(session)
    valid = valid_secret(session, store)
    leaked = leaked_secret(session)
    found = checks.authentication_works(lambda: valid, () if leaked is None else (leaked,))
    return check(session, *service_checks(session.drill, found))


@phase("verify")
def outbound_calls_work() -> bool:
    """The service's outbound LLM API call works with the API key it loaded."""
    session = current()
    found = stand_in_checks(session.drill, checks.outbound_calls_work)
    return check(session, *service_checks(session.drill, *found))


@phase("verify")
def revoked_secret_rejected(when: str = "after recovery") -> bool:
    """A token signed with the leaked (revoked) secret gets nobody in (`when` names the moment
    in the report)."""
    session = current()
    leaked = leaked_secret(session)
    if leaked is None:
        raise InvalidDrill("run revoke_secret first: this check needs the leaked secret")
    found = checks.revoked_secret_rejected(leaked, when=when)
    return check(session, *service_checks(session.drill, found))
