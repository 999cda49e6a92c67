"""The shutdown-grace finding: replicas still running when their grace period ran out.

Every stop a drill's steps make on the embedded stack (a rolling restart, a scale-down, a stop
of a whole component) is timed by the local platform (drillbook.platforms.local.Shutdown):
from the stop signal to the process's exit. A replica that was still running when its grace
period ran out was killed by supervisord (SIGKILL), as the kubelet kills a pod after its
terminationGracePeriodSeconds: every rolling restart then waits for the kill and drops the
replica's in-flight work. That is a finding about the service, reported with its evidence;
the drill's verdict does not change unless [findings] fail_on names "shutdown-grace".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drillbook.core.companions import Attachment
from drillbook.core.findings import Finding
from drillbook.platforms.local import LocalPlatform, Shutdown

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

KIND = "shutdown-grace"


class ShutdownWatch:
    name = "shutdown"

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self._since = len(platform.shutdowns)

    def start(self, drill: Drill) -> None:
        self._since = len(self.platform.shutdowns)

    def stop(self, drill: Drill) -> None:
        """Nothing to stop: the platform times its stops itself."""

    def _seen(self) -> list[Shutdown]:
        return self.platform.shutdowns[self._since :]

    def figures(self) -> Mapping[str, Any]:
        seen = self._seen()
        if not seen:
            return {}
        return {
            "stops": len(seen),
            "slowest_seconds": round(max(s.seconds for s in seen), 3),
            "killed_at_end_of_grace": [s.process for s in seen if s.killed],
        }

    def attachments(self) -> list[Attachment]:
        return []

    def findings(self, drill: Drill) -> list[Finding]:
        killed = [s for s in self._seen() if s.killed]
        by_component: dict[str, list[Shutdown]] = {}
        for shutdown in killed:
            by_component.setdefault(shutdown.component, []).append(shutdown)
        return [
            Finding(
                kind=KIND,
                component=component,
                summary=(
                    f"{len(stops)} replica stop(s) ran out of the {stops[0].grace_seconds:g}s "
                    f"grace period after SIG{stops[0].signal} and ended with SIGKILL "
                    f"({', '.join(s.process for s in stops)}): every rolling restart waits "
                    "that long and drops the replica's in-flight work"
                ),
                evidence={
                    "stops": [
                        {
                            "process": s.process,
                            "signal": f"SIG{s.signal}",
                            "seconds": round(s.seconds, 3),
                            "grace_seconds": s.grace_seconds,
                        }
                        for s in stops
                    ]
                },
            )
            for component, stops in by_component.items()
        ]


def shutdown_watch_companion(target: Target, identity: DrillIdentity) -> ShutdownWatch | None:
    """The companion factory: wherever the platform is the embedded stack's."""
    if not isinstance(target.platform, LocalPlatform):
        return None
    return ShutdownWatch(target.platform)
