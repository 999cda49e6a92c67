"""Scenario 5's runbook: check the provider, then Option A (fall back to environment variables)
or Option B (fix the provider: restore the secret, re-issue access, restart the provider), then
restart the service; after a scheduled rotation, the wait for the service to take the new secret
up, and Option B's restart only where it does not (`RotationTakeUp`). Each step's `command` is
what an operator would type (shown in reports); no command or detail ever contains a secret's
value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from drillbook.config.model import Component
from drillbook.core.contracts import API_KEY_ENV as API_KEY_ENV
from drillbook.core.contracts import JWT_ENV as JWT_ENV
from drillbook.core.contracts import JWT_SECRET_NAME, LLM_API_KEY_NAME, issue_token
from drillbook.core.contracts import PROVIDER_ENV as PROVIDER_ENV
from drillbook.core.findings import Finding
from drillbook.core.platform import Platform
from drillbook.core.redaction import register_secret
from drillbook.core.steps import Check, CheckResult, RecoveryStep, checklist_item
from drillbook.errors import InvalidDrill, SecretProviderError
from drillbook.probes.auth import TokenProvider
from drillbook.scenarios.secrets.stores import restart_provider_process
from drillbook.scenarios.secrets.take_up import REFUSED, STREAK, TakeUp, watch_take_up
from drillbook.secrets.aws import AwsSecretsManagerProvider
from drillbook.secrets.store import SecretStore

if TYPE_CHECKING:
    from drillbook.config.model import HttpProbe
    from drillbook.engine.drill import Drill


def _workload(component: Component) -> str:
    namespace = f" -n {component.namespace}" if component.namespace else ""
    return f"{component.workload or 'deployment/' + component.name}{namespace}"


def check_provider_status(store: SecretStore) -> RecoveryStep:
    """Immediate response: is the provider up, and can the secret be read? (never raises: the
    answer is the diagnosis, recorded in the timeline)."""
    path = store.paths.jwt_secret
    if store.name == "aws":
        command = f"aws secretsmanager describe-secret --secret-id {path}"
    elif store.name == "vault":
        command = f"vault status && vault read {store.location(path)}"
    else:
        command = f"read {store.location(path)}"

    def run() -> Mapping[str, Any]:
        try:
            store.provider.get(path)
        except SecretProviderError as exc:
            return {"secret": type(exc).__name__, "diagnosis": str(exc)}
        return {"secret": "readable", "diagnosis": "the provider serves the secret"}

    return RecoveryStep(name=f"check {store.name} status", command=command, run=run)


def fall_back_to_env(
    platform: Platform,
    app: Component,
    break_glass: Callable[[], Mapping[str, str]],
    *,
    ready_timeout: float,
) -> RecoveryStep:
    """Option A: `kubectl set env` the secrets into the Deployment and point it at them.

    `break_glass` returns the values to set by secret name (`jwt-secret`, `llm-api-key`): the
    plan reads them from the provider, which is what just failed, so in practice they come from
    the operator's sealed copy (or, after a leak, a newly generated secret).
    """

    def run() -> Mapping[str, Any]:
        values = break_glass()
        for value in values.values():
            register_secret(value)
        platform.set_env(
            app.name,
            {
                PROVIDER_ENV: "env",
                JWT_ENV: values[JWT_SECRET_NAME],
                API_KEY_ENV: values[LLM_API_KEY_NAME],
            },
        )
        waited = platform.wait_until_ready(app.name, timeout=ready_timeout)
        return {
            "set": [PROVIDER_ENV, JWT_ENV, API_KEY_ENV],
            "ready_after_seconds": round(waited, 4),
        }

    values = (
        f"{PROVIDER_ENV}=env {JWT_ENV}=$(<break-glass copy>) {API_KEY_ENV}=$(<break-glass copy>)"
    )
    command = f"kubectl set env {_workload(app)} {values}"
    if platform.name == "docker":
        # Compose's `kubectl set env`: an override file, then the service recreated with it.
        service = app.compose_service or app.name
        command = f"docker compose -f <file> -f <override: {values}> up -d --no-deps {service}"
    return RecoveryStep(
        name=f"fall back to environment variables on {app.name}",
        command=command,
        run=run,
    )


def restore_secret(store: SecretStore, path: str | None = None) -> RecoveryStep:
    """Option B: bring the deleted secret back (within AWS's recovery window; KV v2 undelete)."""
    target = path or store.paths.jwt_secret
    if store.name == "aws":
        command = f"aws secretsmanager restore-secret --secret-id {target}"
    elif store.name == "vault":
        command = f"vault kv undelete -versions=<current> {store.location(target)}"
    else:
        command = f"restore {store.location(target)}"

    def run() -> Mapping[str, Any]:
        store.provider.restore(target)
        store.provider.get(target)  # restored means readable again
        return {"restored": store.location(target)}

    return RecoveryStep(name=f"restore {target} in {store.name}", command=command, run=run)


def rotate_secret(
    store: SecretStore, new_value: Callable[[], str], path: str | None = None
) -> RecoveryStep:
    """After a leak: a new value in the provider. The revoked one must never be served again,
    not even for a moment, so a deleted secret is not restored first (that would bring the
    leaked value back until the new one is written): AWS deletes it for good and creates it
    anew; Vault's KV v2 writes a new version over the deleted one."""
    target = path or store.paths.jwt_secret
    provider = store.provider
    if isinstance(provider, AwsSecretsManagerProvider):
        command = (
            f"aws secretsmanager delete-secret --secret-id {target} "
            "--force-delete-without-recovery && aws secretsmanager create-secret "
            f"--name {target} --secret-string <new secret>"
        )
    elif store.name == "vault":
        command = f"vault kv put {store.location(target)} value=<new secret>"
    else:
        command = f"write a new value to {store.location(target)}"

    def run() -> Mapping[str, Any]:
        value = new_value()
        register_secret(value)
        if isinstance(provider, AwsSecretsManagerProvider):
            provider.replace(target, value)
        else:
            provider.put(target, value)
        return {"rotated": store.location(target)}

    return RecoveryStep(name=f"rotate {target} in {store.name}", command=command, run=run)


def reissue_access(store: SecretStore) -> RecoveryStep:
    """Option B: a new token for the application (`vault token create -policy=eleanor-app`),
    where the application reads it (the Vault Agent sink)."""
    access = store.access
    if access is None:
        raise InvalidDrill(
            f"re-issuing the application's access to '{store.name}' needs its credentials, "
            "which drillbook only knows on the embedded stack"
        )

    def run() -> Mapping[str, Any]:
        access.reissue()
        return {"token": "re-issued", "policy": access.policy}

    return RecoveryStep(
        name=f"re-issue the application's {store.name} token",
        command=f"vault token create -policy={access.policy} (written to the agent's sink file)",
        run=run,
    )


def restart_provider(platform: Platform, store: SecretStore) -> RecoveryStep:
    """Option B: restart the provider and verify it serves the secret again. On the embedded
    stack a restarted dev server is empty and is seeded again, standing in for the durable
    storage (and unseal) of a real Vault or the return of AWS's endpoint."""
    component = store.component
    if component is None:
        raise InvalidDrill(
            f"secrets provider '{store.name}' has no platform component to restart; set "
            f"[secrets.{store.name}] component"
        )

    def run() -> Mapping[str, Any]:
        platform.stop(component)
        waited = restart_provider_process(platform, store)
        details: dict[str, Any] = {"ready_after_seconds": round(waited, 4)}
        if store.seed:
            store.seed_state()
            details["reseeded"] = True
        store.provider.get(store.paths.jwt_secret)  # "verify connectivity"
        return details

    return RecoveryStep(
        name=f"restart {store.name}",
        command=f"restart secrets provider {component} ("
        + (
            f"docker compose restart {component}"
            if platform.name == "docker"
            else f"supervisorctl restart {component}:*"
        )
        + "), then verify connectivity",
        run=run,
    )


def reissue_tokens(tokens: TokenProvider, new_secret: Callable[[], str]) -> RecoveryStep:
    """After a rotation, clients need tokens signed with the new secret (the identity provider
    re-issues them; here: drillbook's own probes)."""

    def run() -> Mapping[str, Any]:
        tokens.rotate(new_secret())
        return {"tokens": "re-issued with the new secret"}

    return RecoveryStep(
        name="re-issue client tokens",
        command="re-issue bearer tokens signed with the new JWT secret",
        run=run,
    )


TAKE_UP_CHECK = "rotated secret taken up"


class RotationTakeUp:
    """The runbook of a scheduled rotation: wait, every probe interval for at most the rotation
    window (`[secrets] rotation_window`), until the service accepts a token signed by the new
    secret and refuses one signed by the old. If it never does, that is the
    secret-needs-restart finding, and the plan's Option B follows: restart the service, then
    check the take-up again. A service that took it up needs no restart.

    The service is asked through its first critical endpoint with `auth = true`, as its users
    call it. No secret or token appears in any detail."""

    def __init__(
        self,
        drill: Drill,
        app: Component,
        store: SecretStore,
        *,
        new: Callable[[], str],
        old: str,
        path: str | None = None,
    ) -> None:
        self._drill = drill
        self._app = app
        self._store = store
        self._new = new
        self._old = old
        register_secret(old)
        self._location = store.location(path or store.paths.jwt_secret)
        self._endpoint = _authenticated_endpoint(drill)
        self.watched: TakeUp | None = None
        """What the polls after the rotation showed (None until the wait has run)."""
        self.after_restart: TakeUp | None = None
        """What the polls after the Option B restart showed (None: no restart was needed)."""
        self.restarted_at: float | None = None

    @property
    def window_seconds(self) -> float:
        return self._drill.config.secrets.take_up_window_seconds

    def _watch(self, since: float) -> TakeUp:
        drill = self._drill
        return watch_take_up(
            _caller(drill, self._endpoint),
            new=self._new(),
            old=self._old,
            accepted=self._endpoint.expect_status,
            since=since,
            window_seconds=self.window_seconds,
            interval_seconds=drill.probing.interval_seconds,
            clock=drill.clock,
        )

    def await_take_up(self) -> RecoveryStep:
        """Poll until the rotation is taken up or the window runs out (then: the finding)."""

        def run() -> Mapping[str, Any]:
            fault_at = self._drill.fault_at
            if fault_at is None:
                raise InvalidDrill("no rotation injected yet: call drill.inject(...) first")
            self.watched = self._watch(fault_at)
            if not self.watched.taken_up:
                self._drill.add_finding(self._finding(self.watched))
            return {"endpoint": self._endpoint.name, **self.watched.details()}

        return RecoveryStep(
            name=f"await the rotated {self._location} taken up by {self._app.name}",
            command=(
                f"every {self._drill.probing.interval_seconds:g}s for up to "
                f"{self.window_seconds:g}s: {self._endpoint.method} {self._endpoint.path} with a "
                "token signed by the new secret (accepted?) and one by the old (refused?)"
            ),
            run=run,
        )

    def restart_unless_taken_up(self, restart: RecoveryStep) -> RecoveryStep:
        """Option B's restart where the rotation was not taken up; nothing where it was."""

        def run() -> Mapping[str, Any]:
            if self.watched is None:
                raise InvalidDrill("restart_unless_taken_up runs after await_take_up")
            if self.watched.taken_up:
                return {"restart": "not needed: the rotated secret was taken up without one"}
            details = dict(restart.run() or {})
            self.restarted_at = self._drill.clock.monotonic()
            return {"restart": "done: the rotated secret was not taken up without one", **details}

        return RecoveryStep(
            name=f"{restart.name}, unless the rotated secret was taken up",
            command=f"{restart.command} (only if the rotated secret was not taken up)",
            run=run,
        )

    def taken_up(self) -> Check:
        """The plan's check of a rotation: the new secret accepted and the old refused, without
        a restart or, after the finding, after one. An old secret still accepted fails it."""

        @checklist_item(TAKE_UP_CHECK)
        def check(drill: Drill) -> CheckResult:
            watched = self.watched
            if watched is None:
                raise InvalidDrill("the take-up check runs after await_take_up")
            fault_at = drill.fault_at or 0.0
            if watched.taken_up:
                figures: dict[str, Any] = {"restart_needed": False, **watched.details()}
                return CheckResult(
                    TAKE_UP_CHECK,
                    True,
                    f"taken up {watched.seconds:.3f}s after the rotation without a restart "
                    f"(new secret accepted, old refused in {STREAK} polls in a row; "
                    f"{watched.polls} polls, window {watched.window_seconds:g}s)",
                    figures,
                )
            if self.restarted_at is None:
                raise InvalidDrill("the rotation was not taken up and the service not restarted")
            self.after_restart = self._watch(self.restarted_at)
            after = self.after_restart
            figures = {
                "restart_needed": True,
                "before_restart": watched.details(),
                "after_restart": after.details(),
            }
            before = (
                f"not taken up within {watched.window_seconds:g}s of the rotation "
                "(secret-needs-restart)"
            )
            if not after.taken_up:
                return CheckResult(
                    TAKE_UP_CHECK,
                    False,
                    f"{before}; not after the restart either, in {after.polls} polls over "
                    f"{after.window_seconds:g}s (new secret: {_statuses(after.new_statuses)}; "
                    f"old: {_statuses(after.old_statuses)}; the old must be refused)",
                    figures,
                )
            assert after.seconds is not None
            since_rotation = self.restarted_at + after.seconds - fault_at
            return CheckResult(
                TAKE_UP_CHECK,
                True,
                f"{before}; taken up {after.seconds:.3f}s after the restart, "
                f"{since_rotation:.3f}s after the rotation",
                figures,
            )

        return check

    def _finding(self, watched: TakeUp) -> Finding:
        new, old = watched.last_new, watched.last_old
        if new in REFUSED and old not in REFUSED:
            why = (
                "it still accepts the old secret and refuses the new: the service reads it once "
                "at start-up; a rotated or revoked secret changes nothing until a restart"
            )
        elif old not in REFUSED:
            why = (
                "it still accepts the old secret beside the new: a rotated or revoked secret "
                "keeps working until a restart"
            )
        else:
            why = "it does not accept the new secret: the service needs a restart to load it"
        return Finding(
            kind="secret-needs-restart",
            component=self._app.name,
            summary=(
                f"{self._location} rotated in {self._store.name} was not taken up within "
                f"{watched.window_seconds:g}s of the rotation ({watched.polls} polls; last: new "
                f"secret HTTP {new}, old HTTP {old}): {why}"
            ),
            evidence={
                "provider": self._store.name,
                "secret": self._location,
                "endpoint": f"{self._endpoint.method} {self._endpoint.path}",
                **watched.details(),
            },
        )


def _statuses(counts: Mapping[str, int]) -> str:
    return ", ".join(f"HTTP {status} x{count}" for status, count in counts.items()) or "none"


def _authenticated_endpoint(drill: Drill) -> HttpProbe:
    """The first critical endpoint that wants a bearer token: where a rotation shows."""
    target = drill.config.target
    if target.auth.kind != "jwt":
        raise InvalidDrill(
            'the rotation drill needs a target with bearer tokens ([target.auth] kind = "jwt")'
        )
    for endpoint in target.critical_endpoints:
        if endpoint.auth:
            return endpoint
    raise InvalidDrill(
        "the rotation drill needs a critical endpoint with auth = true "
        "([[target.critical_endpoints]]): a rotation shows only where a token is checked"
    )


def _caller(drill: Drill, endpoint: HttpProbe) -> Callable[[str], int]:
    """`call(secret)`: the endpoint's HTTP status with a token signed by `secret` (0: no
    answer)."""
    base = drill.config.target.base_url
    assert base is not None
    url = base.rstrip("/") + endpoint.path
    auth = drill.config.target.auth
    timeout = drill.probing.timeout_seconds

    def call(secret: str) -> int:
        register_secret(secret)
        token = issue_token(
            secret,
            subject=auth.subject,
            roles=auth.roles,
            scopes=auth.scopes,
            algorithm=auth.algorithm,
        )
        register_secret(token)
        headers = {**drill.probing.headers, "Authorization": f"Bearer {token}"}
        try:
            response = httpx.request(
                endpoint.method, url, json=endpoint.json_body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError:
            return 0
        return response.status_code

    return call
