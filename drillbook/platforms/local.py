"""The `local` platform: the target's processes run under supervisord on this machine.

supervisord plays the Kubernetes controllers: a group is a Deployment or StatefulSet, a process
is a pod. Processes do not restart by themselves (autorestart is off) so that a fault stays
injected until the runbook's recovery step, which is what a drill measures.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drillbook.config.sections.allow import AllowSettings, refuse_unlisted_group
from drillbook.core.platform import ComponentStatus, Replica, ReplicaCount
from drillbook.core.private_files import write_private
from drillbook.core.redaction import REDACTOR
from drillbook.core.undo import UndoAction
from drillbook.errors import FaultFailed, InvalidDrill, RecoveryTimeout, StackError
from drillbook.platforms.env_overlay import read_overlay
from drillbook.platforms.supervisor_client import SupervisorClient

ReadinessCheck = Callable[[], bool]
_RUNNING = "RUNNING"
_READY_POLL_SECONDS = 0.05
_ROLL_TIMEOUT_SECONDS = 60.0
"""How long one replica of a rolling restart may take to become ready."""


@dataclass
class LocalComponent:
    """How one configured component maps onto supervisord processes."""

    name: str
    group: str
    processes: list[str]
    """Process names in the group, in order; the first `desired` of them should run."""
    desired: int
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    env_file: Path | None = None
    """Environment overlay its processes read at start (drillbook.stack.launch); None: the
    component's environment cannot be changed (set_env refuses)."""
    """Per-process readiness check (HTTP /readyz, SELECT 1, PING); absent means RUNNING is ready."""
    in_rotation: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    """Per-process check that the front door (the proxy) routes to it now, as a ready pod is
    listed in its Service's endpoints; absent: ready is enough. A rolling restart waits for it
    before taking the next replica down."""
    stop_grace_seconds: float = 10.0
    """How long a replica may take to stop after its stop signal before supervisord kills it
    (the program's stopwaitsecs: a pod's terminationGracePeriodSeconds)."""
    stop_signal: str = "TERM"
    max_surge: int = 0
    """Extra replicas a rolling restart may start beyond `desired` (from the spare process
    slots), as a Deployment's maxSurge: with 1, it never serves with fewer than `desired`."""
    active: list[str] | None = None
    """The processes that are the desired replicas now, once a rolling restart has moved them
    to other slots (as a rollout's new pods get new names); None: the first `desired`."""


@dataclass(frozen=True)
class Shutdown:
    """One replica stopped by a verb: how long it took after its stop signal, and whether it
    was still running when its grace period ran out (then supervisord killed it)."""

    component: str
    process: str
    signal: str
    seconds: float
    grace_seconds: float

    @property
    def killed(self) -> bool:
        # supervisord sends SIGKILL once stopwaitsecs have passed; a stop that lasted that long
        # (less a margin for the RPC's own latency) ended by that kill.
        return self.seconds >= self.grace_seconds - _KILL_MARGIN_SECONDS


_KILL_MARGIN_SECONDS = 0.2


class LocalPlatform:
    """Platform Protocol over supervisord (see drillbook.core.platform.Platform)."""

    name = "local"
    UNDO_VERBS = frozenset({"start", "restart", "scale", "reconcile", "reset_env", "restore_file"})

    def __init__(self, client: SupervisorClient, components: Mapping[str, LocalComponent]) -> None:
        self._client = client
        self._components = dict(components)
        self.shutdowns: list[Shutdown] = []
        """Every replica a verb stopped, in order (what the shutdown-grace finding reads)."""
        self.allow = AllowSettings()
        """What may be faulted ([allow] supervisor_groups); set by whoever opens the target."""
        self._undoing = False

    def _refuse_unless_allowed(self, component: str) -> None:
        """Every verb that changes a group asks first; undos put back what an allowed fault
        changed and are not asked."""
        if not self._undoing:
            refuse_unlisted_group(self.allow, self.component(component).group)

    def _stop_replica(self, comp: LocalComponent, process: str) -> None:
        """Stop one replica (its stop signal, then SIGKILL after its grace), timed."""
        started = time.monotonic()
        self._client.stop(self._full(comp, process))
        self.shutdowns.append(
            Shutdown(
                component=comp.name,
                process=process,
                signal=comp.stop_signal,
                seconds=time.monotonic() - started,
                grace_seconds=comp.stop_grace_seconds,
            )
        )

    def component(self, component: str) -> LocalComponent:
        try:
            return self._components[component]
        except KeyError:
            known = ", ".join(sorted(self._components))
            raise InvalidDrill(
                f"component '{component}' is not part of the local stack; known: {known}"
            ) from None

    def _full(self, comp: LocalComponent, process: str) -> str:
        return f"{comp.group}:{process}"

    def replicas(self, component: str) -> list[Replica]:
        comp = self.component(component)
        infos = {i["name"]: i for i in self._client.processes() if i["group"] == comp.group}
        result = []
        for process in comp.processes:
            info = infos.get(process)
            if info is None:
                raise StackError(f"supervisord has no process {comp.group}:{process}")
            running = info["statename"] == _RUNNING
            result.append(
                Replica(
                    component=component,
                    name=process,
                    pid=int(info["pid"]) if running and info["pid"] else None,
                    running=running,
                    state=str(info["statename"]),
                    started_at=float(info["start"]) if info.get("start") else None,
                )
            )
        return result

    def kill(
        self, component: str, *, count: ReplicaCount = 1, names: Sequence[str] | None = None
    ) -> list[Replica]:
        self._refuse_unless_allowed(component)
        running = [r for r in self.replicas(component) if r.running and r.pid]
        if names is not None:
            running = [r for r in running if r.name in names]
        chosen = running if count == "all" else running[: int(count)]
        if not chosen:
            raise FaultFailed(f"no running replica of '{component}' to kill")
        for replica in chosen:
            assert replica.pid is not None
            try:
                os.kill(replica.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            except PermissionError as exc:
                raise FaultFailed(
                    f"not permitted to kill {replica.name} (pid {replica.pid}): {exc}; "
                    "run the drill as the user that started the stack"
                ) from exc
        self._wait_not_running(component, [r.name for r in chosen], timeout=10.0)
        return chosen

    def _wait_not_running(self, component: str, names: Sequence[str], *, timeout: float) -> None:
        # supervisord reaps its children at once, but its state lags by a loop iteration; a
        # recovery step started before it notices would find the process still "RUNNING".
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {r.name: r.running for r in self.replicas(component)}
            if not any(states.get(n) for n in names):
                return
            time.sleep(_READY_POLL_SECONDS)
        raise FaultFailed(f"replicas {list(names)} of '{component}' still running after kill")

    def _desired_processes(self, comp: LocalComponent) -> list[str]:
        if comp.active is not None and len(comp.active) == comp.desired:
            return list(comp.active)
        return comp.processes[: comp.desired]

    def stop(self, component: str) -> None:
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        for replica in self.replicas(component):
            if replica.running:
                self._stop_replica(comp, replica.name)

    def start(self, component: str) -> None:
        comp = self.component(component)
        states = {r.name: r.running for r in self.replicas(component)}
        for process in self._desired_processes(comp):
            if not states.get(process):
                self._client.start(self._full(comp, process))

    def reconcile(self, component: str) -> None:
        """Undo of a kill or stop: exactly the desired replicas running, as a controller makes it.

        Also stops replicas beyond `desired`: a surge replica of a rolling restart that a killed
        run left behind is not journaled (a recovery step, not a fault), and the next run's
        undo replay must still leave the component as declared.
        """
        comp = self.component(component)
        self.start(component)
        desired = set(self._desired_processes(comp))
        for replica in self.replicas(component):
            if replica.running and replica.name not in desired:
                self._stop_replica(comp, replica.name)

    def restore_file(self, component: str, path: str, saved: str, if_sha256: str) -> None:
        """Undo of a damaged data file: put the saved original back while the file still holds
        the damage (sha256 `if_sha256`), then start the component. A recovery that replaced
        the file (a restore from backup) has undone the fault already: kept.

        The copy goes to a temporary file beside it, fsynced, then renamed over the damaged
        one, so a crash mid-restore leaves either the damage (replayed again) or the original,
        never half of each. The saved original is deleted only once it is not needed: restored,
        or the file replaced by the recovery; a file gone altogether keeps it for the operator."""
        target, original = Path(path), Path(saved)
        try:
            current: str | None = hashlib.sha256(target.read_bytes()).hexdigest()
        except FileNotFoundError:
            current = None
        if current == if_sha256:
            if not original.is_file():
                raise FaultFailed(
                    f"cannot undo the damage to {target}: its saved original {original} is "
                    "gone; restore the database from a backup (drillbook restore database)"
                )
            _replace_atomically(target, original.read_bytes())
        if current is not None:
            original.unlink(missing_ok=True)
        self.start(component)

    def set_env(
        self,
        component: str,
        env: Mapping[str, str | None],
        container: str | None = None,
        *,
        recreate: bool = False,
    ) -> dict[str, str | None]:
        """The plan's `kubectl set env`: set (None: remove) variables and roll the replicas, as
        a Deployment does; returns the previous overlay values. `container` is ignored (one
        process is one container here).

        Locally the change is an overlay file every replica applies when it starts (see
        drillbook.stack.launch): a restarted replica keeps it, as a Deployment's pods keep
        their spec, and nothing rewrites supervisord's configuration under its feet.
        """
        del container
        self._refuse_unless_allowed(component)
        path = self._env_file(component)
        overlay = read_overlay(path)
        previous = {name: overlay.get(name) for name in env}
        overlay.update(env)
        self._write_overlay(path, overlay)
        self._apply_env(component, recreate=recreate)
        return previous

    def reset_env(self, component: str, recreate: bool = False) -> None:
        """Drop every set_env (back to the deployed environment) and roll the replicas. As an
        undo it journals no values, so a secret set by the plan's fallback stays off disk."""
        self._env_file(component).unlink(missing_ok=True)
        self._apply_env(component, recreate=recreate)

    def _apply_env(self, component: str, *, recreate: bool) -> None:
        # A rolling restart keeps the service up, as a Deployment's rollout does; `recreate`
        # (a Deployment's Recreate strategy) restarts every replica at once and is for set-up
        # outside any drill, where nobody is served and a roll would only cost time.
        if recreate:
            self.recreate(component)
        else:
            self.restart(component)

    def recreate(self, component: str) -> None:
        """Every replica stopped, then the desired ones started together, each waited for until
        it serves (ready, and routed to by the proxy)."""
        comp = self.component(component)
        for replica in self.replicas(component):
            if replica.running:
                self._stop_replica(comp, replica.name)
        desired = self._desired_processes(comp)
        for process in desired:
            self._client.start(self._full(comp, process))
        for process in desired:
            self._wait_serving(comp, process, timeout=_ROLL_TIMEOUT_SECONDS)

    def _write_overlay(self, path: Path, overlay: Mapping[str, str | None]) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The overlay may hold a secret (the plan's JWT_SECRET fallback): owner-only, and
        # replaced atomically so a replica starting meanwhile never reads half a file.
        write_private(path, json.dumps(dict(overlay), sort_keys=True))

    def env_overlay(self, component: str) -> dict[str, str | None]:
        """What set_env has changed on the component so far."""
        return read_overlay(self._env_file(component))

    def _env_file(self, component: str) -> Path:
        comp = self.component(component)
        if comp.env_file is None:
            raise InvalidDrill(
                f"component '{component}' of the local stack does not take environment changes "
                "(its processes are not started through drillbook.stack.launch --env-file)"
            )
        return comp.env_file

    def restart(self, component: str) -> None:
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        states = {r.name: r.running for r in self.replicas(component)}
        desired = self._desired_processes(comp)
        dead = [p for p in desired if not states.get(p)]
        running = [p for p in desired if states.get(p)]
        # Dead replicas first, all at once: nothing is served from them, nothing to wait for.
        for process in dead:
            self._client.start(self._full(comp, process))
        if not running:
            return
        for process in dead:
            self._wait_serving(comp, process, timeout=_ROLL_TIMEOUT_SECONDS)
        # Then the running ones one at a time, as `kubectl rollout restart` rolls a Deployment
        # with maxSurge 1 and maxUnavailable 0: a new replica in a spare slot first, and only
        # once it is in service (ready, and routed to by the proxy) the old one it replaces
        # goes. Ready alone is not enough: until the proxy's own check has seen it, the proxy
        # still routes only to the others. The new replica keeps its slot, as a new pod keeps
        # its new name, so N replicas take N waits (restarting each in its old slot took N+1).
        active = list(desired)
        for old in running:
            spare = self._spare_slot(comp, active) if comp.max_surge else None
            full_old = self._full(comp, old)
            if spare is None:
                # No spare slot (or maxSurge 0): in place, each back in service before the next.
                self._stop_replica(comp, old)
                self._client.start(full_old)
                self._wait_serving(comp, old, timeout=_ROLL_TIMEOUT_SECONDS)
                continue
            full_spare = self._full(comp, spare)
            self._client.start(full_spare)
            try:
                self._wait_serving(comp, spare, timeout=_ROLL_TIMEOUT_SECONDS)
            except BaseException:
                # The roll stops here with the old replicas serving, as a stuck rollout does.
                with contextlib.suppress(StackError):
                    self._client.stop(full_spare)
                raise
            self._stop_replica(comp, old)
            active[active.index(old)] = spare
            comp.active = list(active)

    def _spare_slot(self, comp: LocalComponent, active: Sequence[str]) -> str | None:
        """The first process slot that is neither a desired replica nor running."""
        states = {r.name: r.running for r in self.replicas(comp.name)}
        return next((p for p in comp.processes if p not in active and not states.get(p)), None)

    def _wait_serving(self, comp: LocalComponent, process: str, *, timeout: float) -> None:
        """Until the process runs, passes its readiness check and the proxy routes to it."""
        deadline = time.monotonic() + timeout
        ready, routed = comp.readiness.get(process), comp.in_rotation.get(process)
        waiting_for = "ready"
        while time.monotonic() < deadline:
            info = self._client.process(self._full(comp, process))
            if info["statename"] == _RUNNING and (ready is None or ready()):
                waiting_for = "routed to by the proxy"
                if routed is None or routed():
                    return
            time.sleep(_READY_POLL_SECONDS)
        raise RecoveryTimeout(
            f"'{comp.name}' replica {process} not {waiting_for} {timeout:.0f}s after its "
            "restart; the rolling restart stopped there"
        )

    def scale(self, component: str, replicas: int) -> None:
        self._refuse_unless_allowed(component)
        comp = self.component(component)
        if not 0 <= replicas <= len(comp.processes):
            raise InvalidDrill(
                f"cannot scale '{component}' to {replicas}: the local stack declares "
                f"{len(comp.processes)} replicas at most (stack.max_app_replicas)"
            )
        current = self._desired_processes(comp)
        spare = [p for p in comp.processes if p not in current]
        wanted = (current + spare)[:replicas]
        comp.desired = replicas
        comp.active = wanted
        states = {r.name: r.running for r in self.replicas(component)}
        for process in comp.processes:
            full = self._full(comp, process)
            if process in wanted and not states.get(process):
                self._client.start(full)
            elif process not in wanted and states.get(process):
                self._stop_replica(comp, process)

    def wait_until_ready(self, component: str, *, timeout: float) -> float:
        comp = self.component(component)
        started = time.monotonic()
        deadline = started + timeout
        pending = set(self._desired_processes(comp))
        while True:
            states = {r.name: r.running for r in self.replicas(component)}
            for process in list(pending):
                check = comp.readiness.get(process)
                if states.get(process) and (check is None or check()):
                    pending.discard(process)
            if not pending:
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                raise RecoveryTimeout(
                    f"'{component}' not ready after {timeout:.1f}s: {sorted(pending)} not ready"
                    + self._why_not_ready(comp, sorted(pending), states)
                )
            time.sleep(_READY_POLL_SECONDS)

    def _why_not_ready(
        self, comp: LocalComponent, pending: list[str], running: dict[str, bool]
    ) -> str:
        """Each pending replica's process state and its last log lines: a red result that
        says why, even when the run directory holding the logs is removed afterwards."""
        parts: list[str] = []
        for process in pending:
            state = "running, readiness check failing" if running.get(process) else "not running"
            try:
                tail = self._client.tail(self._full(comp, process), 5 * 200).splitlines()[-5:]
            except Exception as exc:  # the supervisor itself gone: say so, keep the message
                tail = [f"(log unavailable: {type(exc).__name__})"]
            lines = "".join(f"\n    | {REDACTOR.redact(line)}" for line in tail)
            parts.append(f"\n  {process}: {state}; last log lines:{lines or ' (empty)'}")
        return "".join(parts)

    def status(self, component: str) -> ComponentStatus:
        comp = self.component(component)
        replicas = self.replicas(component)
        ready = 0
        for replica in replicas:
            check = comp.readiness.get(replica.name)
            if replica.running and (check is None or check()):
                ready += 1
        return ComponentStatus(
            component=component,
            desired=comp.desired,
            running=sum(1 for r in replicas if r.running),
            ready=ready,
            replicas=tuple(replicas),
        )

    def log_tail(self, component: str, *, lines: int = 100) -> dict[str, str]:
        comp = self.component(component)
        tails: dict[str, str] = {}
        for process in comp.processes:
            # supervisord tails by bytes; 200 bytes a line is generous for these services.
            text = self._client.tail(self._full(comp, process), lines * 200)
            tails[process] = "\n".join(text.splitlines()[-lines:])
        return tails

    def apply_undo(self, action: UndoAction) -> None:
        if action.platform != self.name or action.verb not in self.UNDO_VERBS:
            raise InvalidDrill(f"local platform cannot execute undo {action.verb!r}")
        self._undoing = True
        try:
            getattr(self, action.verb)(**action.args)
        finally:
            self._undoing = False


def _replace_atomically(target: Path, content: bytes) -> None:
    """Write `content` over `target` through a temporary file renamed into place, with the
    target's owner and mode (a data file is the server's, 0600)."""
    status = target.stat()
    temporary = target.with_name(f".{target.name}.drillbook-restore")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fchmod(fh.fileno(), status.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):  # not root: the owner is ours already
            os.fchown(fh.fileno(), status.st_uid, status.st_gid)
        os.fsync(fh.fileno())
    os.replace(temporary, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
