"""The no-self-recovery finding: a crashed container that stayed down until the runbook acted.

On Docker a crash is a container whose process died (drillbook's kill: SIGKILL). Under a
restart policy that restarts (`always`, `unless-stopped`, `on-failure`) the engine starts it
again by itself within a second or so, and the drill times that self-recovery. Under `no` (the
default of `docker run`, and of a Compose service that does not say) nothing does: the outage
lasts until someone runs the runbook, at night until someone is paged. That is a finding about
the deployment, with its evidence: the container, its policy, how long it stayed down (from the
kill to its start by the runbook, or to the end of the drill when it never came back), and when
the runbook's first step began.

How it is told: the engine counts the starts its restart policy makes (RestartCount); a killed
container whose count did not grow since the drill started and that was not started again
before the first recovery step stayed down until the runbook acted. Times are the engine's
(State.StartedAt) against this machine's clock: the same clock for a local engine.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.companions.timeline_watch import TimelineWatch
from drillbook.core.findings import Finding
from drillbook.core.timeline import EventKind
from drillbook.platforms.docker import SELF_RESTARTING, DockerPlatform, engine_time

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

KIND = "no-self-recovery"


def restart_policy(attrs: Mapping[str, Any]) -> str:
    return str((attrs.get("HostConfig", {}).get("RestartPolicy") or {}).get("Name") or "no")


def stayed_down_until_runbook(
    name: str,
    attrs: Mapping[str, Any],
    *,
    restarts_at_start: int | None,
    fault_wall: float,
    runbook_wall: float | None,
    now: float,
) -> dict[str, Any] | None:
    """The evidence that a killed container stayed down until the runbook acted, from what the
    engine says of it now (`docker inspect`); None when it came back by itself (its policy
    restarts it, or the engine's restart count grew) or was started before the runbook."""
    policy = restart_policy(attrs)
    restarts = int(attrs.get("RestartCount", 0))
    if policy in SELF_RESTARTING or restarts > (
        restarts if restarts_at_start is None else restarts_at_start
    ):
        return None  # the engine brought it back by itself: the RTO timed that
    state = attrs.get("State", {})
    started = engine_time(state.get("StartedAt"))
    if bool(state.get("Running")) and started is not None and started >= fault_wall:
        if runbook_wall is None or started < runbook_wall:
            return None  # started again before the runbook acted (by someone else)
        down_until, back = started, "started by the runbook"
    else:
        down_until, back = now, "still down at the end of the drill"
    return {
        "container": name,
        "restart_policy": policy,
        "restart_count": restarts,
        "down_seconds": round(down_until - fault_wall, 3),
        "runbook_started_after_seconds": (
            round(runbook_wall - fault_wall, 3) if runbook_wall is not None else None
        ),
        "back": back,
    }


class SelfRecoveryWatch(TimelineWatch):
    """Restart counts at the start of the drill; at the end, the killed containers judged."""

    name = "self_recovery"

    def __init__(self, platform: DockerPlatform) -> None:
        super().__init__()
        self.platform = platform
        self._restarts_at_start: dict[str, int] = {}
        self._reported: list[Finding] | None = None
        """Judged once: findings are collected after the recovery and again at the end."""

    def start(self, drill: Drill) -> None:
        self._restarts_at_start = {}
        for component in drill.config.target.components:
            for container in self.platform.containers(component):
                self._restarts_at_start[str(container.name)] = int(
                    container.attrs.get("RestartCount", 0)
                )

    def findings(self, drill: Drill) -> list[Finding]:
        if self._reported is None:
            self._reported = self._judge(drill)
        return list(self._reported)

    def _judge(self, drill: Drill) -> list[Finding]:
        fault = drill.fault
        injected = drill.timeline.first_event(EventKind.FAULT_INJECTED)
        if fault is None or fault.stops is None or injected is None:
            return []
        killed = [str(name) for name in injected.details.get("killed") or []]
        if not killed:
            return []  # a scale-down or a stop is an operator's act, not a crash
        runbook = drill.timeline.first_event(EventKind.RECOVERY_STARTED)
        runbook_wall = runbook.wall if runbook is not None else None
        stayed_down: list[dict[str, Any]] = []
        for container in self.platform.containers(fault.stops):
            if str(container.name) not in killed:
                continue
            container.reload()
            judged = stayed_down_until_runbook(
                str(container.name),
                container.attrs,
                restarts_at_start=self._restarts_at_start.get(str(container.name)),
                fault_wall=injected.wall,
                runbook_wall=runbook_wall,
                now=time.time(),
            )
            if judged is not None:
                stayed_down.append(judged)
        self._figures = {"stayed_down": stayed_down} if stayed_down else {}
        if not stayed_down:
            return []
        longest = max(s["down_seconds"] for s in stayed_down)
        names = ", ".join(s["container"] for s in stayed_down)
        return [
            Finding(
                kind=KIND,
                component=fault.stops,
                summary=(
                    f"{len(stayed_down)} crashed container(s) with restart policy "
                    f"'{stayed_down[0]['restart_policy']}' stayed down until the runbook acted "
                    f"({names}; down {longest:.1f} s): nothing restarts them by itself "
                    "(restart: unless-stopped would)"
                ),
                evidence={"containers": stayed_down},
            )
        ]


def self_recovery_companion(target: Target, identity: DrillIdentity) -> SelfRecoveryWatch | None:
    """The companion factory: on platform docker, where a restart policy decides it."""
    if not isinstance(target.platform, DockerPlatform):
        return None
    return SelfRecoveryWatch(target.platform)
