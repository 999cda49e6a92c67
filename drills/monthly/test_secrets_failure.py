"""Scenario 5 of the DR plan: Secrets Management Failure.

Symptoms: API key retrieval failures, authentication failures, LLM API call failures.
Immediate response: check the provider (`aws secretsmanager describe-secret`, `vault status`,
`vault read secret/eleanor/prod/jwt-secret`). Recovery (10-20 min): Option A, fall back to
environment variables (`kubectl set env deployment/eleanor-v8 JWT_SECRET=...`); Option B, fix the
provider (restore the secret, re-issue access, restart the provider), then restart the service.
Verification: secret retrieval, authentication, LLM API calls, application health.

The drills run per configured provider (on the embedded stack: OpenBao for Vault, a moto server
for AWS Secrets Manager), each with its own RTO. Every provider meets each of its faults and both
options once, within a monthly run's time:

| fault                          | Vault (OpenBao)              | AWS Secrets Manager            |
|--------------------------------|------------------------------|--------------------------------|
| secret deleted                 | A: environment fallback      | B: restore (recovery window)   |
| application's access revoked   | B: re-issue the token        | (IAM: not enforced by moto)    |
| provider down                  | B: restart the provider      | A: environment fallback        |
| secret leaked (revoked)        | B: rotate                    | B: rotate                      |
| scheduled rotation             | taken up, else B: restart    | taken up, else B: restart      |

A secrets drill is also a security drill: after a leaked secret is rotated, a token signed with it
gets nobody in, during recovery and after. And a rotation is routine: on schedule, the service
must take the new secret up (and refuse the old) within `[secrets] rotation_window` without a
restart; one that reads its secret once at start-up is reported (the secret-needs-restart
finding) and restarted, as Option B does.

With Kubernetes Secrets as the provider (`[secrets] providers = ["kubernetes"]`: the JWT secret
in its own Secret, read by the Deployment through a secretKeyRef) the secret deleted is the
Secret: Option A sets the fallback env on the Deployment (`kubectl set env`, then `kubectl rollout
status`), Option B re-creates the Secret and restarts the Deployment; a revoked secret is
rotated in the Secret and the Deployment restarted. On simulated pods (no end-to-end probe) the
platform shows the fault as a real kubelet would (the Deployment's pods could not start: the
Secret they need is gone), the recovery is timed on the API server's clock, and the checks that
need the running service (retrieval by the service, authentication, LLM calls, the revoked
secret refused) are recorded as not run.
"""

from __future__ import annotations

import secrets

import allure
import pytest

from drillbook.config.model import Component
from drillbook.core.redaction import register_secret
from drillbook.engine.drill import Drill
from drillbook.engine.reach import service_checks, stand_in_checks
from drillbook.scenarios.common import (
    critical_endpoints_respond,
    error_rate_normal,
    health_checks_pass,
)
from drillbook.scenarios.secrets.checks import (
    authentication_works,
    check_now,
    check_step,
    outbound_calls_work,
    revoked_secret_rejected,
    secret_retrieval,
    secret_served,
)
from drillbook.scenarios.secrets.faults import (
    delete_secret,
    revoke_access,
    revoke_secret,
    rotate_secret_on_schedule,
    take_provider_down,
)
from drillbook.scenarios.secrets.pointing import break_glass
from drillbook.scenarios.secrets.runbook import (
    RotationTakeUp,
    check_provider_status,
    fall_back_to_env,
    reissue_access,
    reissue_tokens,
    restart_provider,
    restore_secret,
    rotate_secret,
)
from drillbook.scenarios.workloads.runbook import restart_workload
from drillbook.secrets.store import SecretStore
from drillbook.target import Target

pytestmark = pytest.mark.drill(scenario="secrets-management-failure", component="app")


@pytest.fixture(autouse=True)
def _rto_where_users_authenticate(drill: Drill) -> None:
    """Authentication is what these faults break, and only the critical endpoints, called with
    the clients' bearer token, show it (/health answers ok while every call is refused): they
    count in the RTO beside the health probes."""
    drill.count_critical_endpoints_in_rto()


def _label(store: SecretStore) -> None:
    """Which provider this run drills, on the report's overview."""
    allure.dynamic.parameter("provider", store.name)
    allure.dynamic.tag(f"secrets:{store.name}")


def _detect_within(drill: Drill) -> float:
    # The service caches its secrets: a revoked one shows only once the cached copy expires.
    return drill.probing.detect_timeout_seconds + drill.config.secrets.cache_ttl_seconds


def _wait_one_cache_ttl_after_the_fault(drill: Drill) -> None:
    assert drill.fault_at is not None
    until = drill.fault_at + drill.config.secrets.cache_ttl_seconds + drill.probing.interval_seconds
    # A phase of its own, so the report (and the benchmark) show the wait for what it is.
    ttl = drill.config.secrets.cache_ttl_seconds
    with drill.phase("observe", f"observe: one secrets cache TTL ({ttl:g}s) after the fault"):
        drill.clock.sleep(max(0.0, until - drill.clock.monotonic()))


def _ready_within(drill: Drill, app: Component) -> float:
    return drill.config.objectives.rto_for(app.tier)


def _measure_where_tokens_are_checked(drill: Drill) -> None:
    """Count the critical endpoints that want a token in this drill's RTO. A rotation shows
    only there: the health probe carries no token, so a service still holding the old secret
    looks healthy to it while every user's call is refused."""
    for endpoint in drill.config.target.critical_endpoints:
        if endpoint.auth and endpoint.name not in drill.probe_names:
            drill.probe_names.append(endpoint.name)


def _verify(
    drill: Drill,
    store: SecretStore,
    *,
    app_provider: str,
    valid: str,
    rejected: tuple[str, ...] = (),
    revoked: str | None = None,
) -> None:
    """The plan's verification: secret retrieval, authentication, LLM API calls, health."""
    # Served by the provider (and not a revoked value) unless the service left it (Option A).
    served = () if app_provider == "env" else (secret_served(store, revoked=revoked),)
    drill.verify(
        *service_checks(
            drill,
            *stand_in_checks(
                drill, secret_retrieval(store, app_provider=app_provider), outbound_calls_work
            ),
            authentication_works(lambda: valid, rejected),
        ),
        *served,
        health_checks_pass,
        critical_endpoints_respond,
        error_rate_normal,
    )


@pytest.mark.drill(
    option="Option B: restore the secret, restart the service", providers=("aws", "kubernetes")
)
def test_secret_deleted_recovered_by_restoring_it(
    secret_store: SecretStore, drill: Drill, app: Component
) -> None:
    """JWT secret deleted in the provider: restored (recovery window / undelete), then restart."""
    _label(secret_store)
    drill.inject(delete_secret(secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    drill.recover(
        check_provider_status(secret_store),
        restore_secret(secret_store),
        restart_workload(drill.platform, app, ready_timeout=_ready_within(drill, app)),
    )
    drill.wait_until_recovered()
    jwt = break_glass(secret_store)["jwt-secret"]
    _verify(drill, secret_store, app_provider=secret_store.app_provider, valid=jwt)
    drill.assert_objectives()


@pytest.mark.drill(option="Option B: re-issue access, restart the service", providers=("vault",))
def test_access_revoked_recovered_by_reissuing_it(
    secret_store: SecretStore, drill: Drill, app: Component
) -> None:
    """The application's Vault token revoked: a new token issued, then restart the service."""
    _label(secret_store)
    drill.inject(revoke_access(secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    drill.recover(
        check_provider_status(secret_store),
        reissue_access(secret_store),
        restart_workload(drill.platform, app, ready_timeout=_ready_within(drill, app)),
    )
    drill.wait_until_recovered()
    jwt = break_glass(secret_store)["jwt-secret"]
    _verify(drill, secret_store, app_provider=secret_store.app_provider, valid=jwt)
    drill.assert_objectives()


@pytest.mark.drill(option="Option B: restart the provider, then the service", providers=("vault",))
def test_provider_down_recovered_by_restarting_it(
    secret_store: SecretStore, drill: Drill, app: Component
) -> None:
    """Secrets provider down (killed): restarted and verified, then restart the service."""
    _label(secret_store)
    drill.inject(take_provider_down(drill.platform, secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    drill.recover(
        check_provider_status(secret_store),
        restart_provider(drill.platform, secret_store),
        restart_workload(drill.platform, app, ready_timeout=_ready_within(drill, app)),
    )
    drill.wait_until_recovered()
    jwt = break_glass(secret_store)["jwt-secret"]
    _verify(drill, secret_store, app_provider=secret_store.app_provider, valid=jwt)
    drill.assert_objectives()


@pytest.mark.drill(option="Option B: rotate the leaked secret, restart the service")
def test_leaked_secret_rotated_lets_no_one_in(
    secret_store: SecretStore, drill: Drill, app: Component, drill_target: Target
) -> None:
    """Leaked JWT secret revoked and rotated: no token signed with it gets in, during or after."""
    _label(secret_store)
    # What leaked is what the provider serves now (an operator's break-glass copy may differ).
    leaked = secret_store.provider.get(secret_store.paths.jwt_secret)
    rotated = secrets.token_urlsafe(32)
    register_secret(rotated)
    drill.inject(revoke_secret(secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    # Replicas keep a secret for their cache TTL: that long after the revocation, the leaked
    # secret may still get in (ELEANOR: 5 minutes), and from then on it must not.
    _wait_one_cache_ttl_after_the_fault(drill)
    after_ttl = revoked_secret_rejected(leaked, when="one cache TTL after the revocation")
    for check in service_checks(drill, after_ttl):
        check_now(drill, check)
    during = revoked_secret_rejected(leaked, when="during recovery")
    drill.recover(
        check_provider_status(secret_store),
        rotate_secret(secret_store, lambda: rotated),
        *(check_step(drill, check) for check in service_checks(drill, during)),
        restart_workload(drill.platform, app, ready_timeout=_ready_within(drill, app)),
        reissue_tokens(drill_target.tokens, lambda: rotated),
    )
    drill.wait_until_recovered()
    _verify(
        drill,
        secret_store,
        app_provider=secret_store.app_provider,
        valid=rotated,
        rejected=(leaked,),
        revoked=leaked,
    )
    drill.assert_objectives()


@pytest.mark.drill(
    option="Scheduled rotation: taken up without a restart", providers=("vault", "aws")
)
def test_rotated_secret_taken_up_without_a_restart(
    secret_store: SecretStore, drill: Drill, app: Component, drill_target: Target
) -> None:
    """JWT secret rotated on schedule, clients' tokens with it: the service accepts the new and
    refuses the old within the rotation window, without a restart. Where it does not, that is
    the secret-needs-restart finding, and Option B's restart follows (then checked again)."""
    _label(secret_store)
    original = secret_store.provider.get(secret_store.paths.jwt_secret)
    register_secret(original)
    rotated = secrets.token_urlsafe(32)
    register_secret(rotated)
    _measure_where_tokens_are_checked(drill)
    drill.inject(rotate_secret_on_schedule(secret_store, lambda: rotated, drill_target.tokens))
    take_up = RotationTakeUp(drill, app, secret_store, new=lambda: rotated, old=original)
    drill.recover(
        take_up.await_take_up(),
        take_up.restart_unless_taken_up(
            restart_workload(drill.platform, app, ready_timeout=_ready_within(drill, app))
        ),
        *(check_step(drill, check) for check in service_checks(drill, take_up.taken_up())),
    )
    if drill.outage_observed():
        drill.wait_until_recovered()
    else:
        # Taken up before any probe saw a refusal: no outage to recover from, only to confirm.
        drill.observe_no_outage(drill.probing.interval_seconds * drill.probing.healthy_streak)
    _verify(
        drill,
        secret_store,
        app_provider=secret_store.app_provider,
        valid=rotated,
        rejected=(original,),
        revoked=original,
    )
    drill.assert_objectives()


# The env-fallback drills come last for their provider: their undo returns the application to
# its deployed environment, so the drill after them would first have to point it at the
# provider again (a restart of every replica); last, that restart is the one the next provider
# or the end of the module needs anyway.


@pytest.mark.drill(
    option="Option A: fall back to environment variables", providers=("vault", "kubernetes")
)
def test_secret_deleted_recovered_by_env_fallback(
    secret_store: SecretStore, drill: Drill, app: Component
) -> None:
    """JWT secret deleted in the provider: recovered by falling back to environment variables."""
    _label(secret_store)
    drill.inject(delete_secret(secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    drill.recover(
        check_provider_status(secret_store),
        fall_back_to_env(
            drill.platform,
            app,
            lambda: break_glass(secret_store),
            ready_timeout=_ready_within(drill, app),
        ),
    )
    drill.wait_until_recovered()
    jwt = break_glass(secret_store)["jwt-secret"]
    _verify(drill, secret_store, app_provider="env", valid=jwt)
    drill.assert_objectives()


@pytest.mark.drill(option="Option A: fall back to environment variables", providers=("aws",))
def test_provider_down_recovered_by_env_fallback(
    secret_store: SecretStore, drill: Drill, app: Component
) -> None:
    """Secrets provider down (killed): recovered by falling back to environment variables."""
    _label(secret_store)
    drill.inject(take_provider_down(drill.platform, secret_store))
    drill.wait_until_detected(timeout=_detect_within(drill))
    drill.recover(
        check_provider_status(secret_store),
        fall_back_to_env(
            drill.platform,
            app,
            lambda: break_glass(secret_store),
            ready_timeout=_ready_within(drill, app),
        ),
    )
    drill.wait_until_recovered()
    jwt = break_glass(secret_store)["jwt-secret"]
    _verify(drill, secret_store, app_provider="env", valid=jwt)
    drill.assert_objectives()
