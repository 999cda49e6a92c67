"""What a drill can observe of its target: the service end to end, or the platform only.

The configuration says which. `kubernetes.probes = "pod-readiness"` declares a target with no
end-to-end probe: its pods are simulated (KWOK) and run no process, so nothing answers a request
and no data can be read; drillbook then probes the platform (pods Ready behind each selector,
the configuration they need present). Every other target (the embedded stack, a real cluster
such as kind) serves its API, and its drills also probe the service and check the data.

A drill module is written once: it runs the platform-level steps and checks everywhere and asks
here for the ones that need the service. Where they cannot run, each is recorded on the drill as
not run, with why (`Drill.checks_not_run`, in figures.json and the report), never passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.config.model import DrillbookConfig
from drillbook.core.steps import Check, check_name

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill

NOT_END_TO_END = (
    "not run: needs the running service, and this target has no end-to-end probe "
    '(kubernetes.probes = "pod-readiness": its pods are simulated and run no process); it is '
    "checked on the embedded stack and on a real cluster (configs/kind.toml)"
)


def end_to_end(config: DrillbookConfig) -> bool:
    """Whether the target's probes reach the service users see (not the platform only)."""
    return not (config.platform == "kubernetes" and config.kubernetes.probes == "pod-readiness")


def reaches_service(drill: Drill, what: str) -> bool:
    """True where the drill can do `what` against the running service; otherwise records it as
    not run (with why) and returns False."""
    if end_to_end(drill.config):
        return True
    drill.checks_not_run[what] = NOT_END_TO_END
    drill.note(f"not run: {what}", reason=NOT_END_TO_END)
    return False


def service_checks(drill: Drill, *checks: Check) -> tuple[Check, ...]:
    """`checks` (which talk to the service or its data) where the target has an end-to-end
    probe; none elsewhere, each recorded as not run."""
    if end_to_end(drill.config):
        return checks
    for check in checks:
        reaches_service(drill, check_name(check))
    return ()


NOT_THE_STAND_IN = (
    "not run: it asks the ELEANOR stand-in's own endpoints (/health's secrets block, "
    "/outbound/check), and the service in [stack.app] is another one; its own checks are the "
    "probes and critical endpoints of the configuration"
)


def stand_in_checks(drill: Drill, *checks: Check) -> tuple[Check, ...]:
    """`checks` that read what only ELEANOR (or its stand-in) exposes; on the embedded stack
    running a service of one's own ([stack.app]), each is recorded as not run instead."""
    if not (drill.config.platform == "local" and drill.config.stack.app.is_custom):
        return checks
    for check in checks:
        name = check_name(check)
        drill.checks_not_run[name] = NOT_THE_STAND_IN
        drill.note(f"not run: {name}", reason=NOT_THE_STAND_IN)
    return ()
