"""drillbook as a Chaos Toolkit extension: `chaos run experiments/...`.

Activities (plain functions with keyword arguments) grouped per resource, each with `actions`,
`probes` and `rollbacks` modules: `application`, `database`, `cache`, `vector_store`,
`secrets`, and `drill` (the checks and objectives every drill has); `tolerances` holds
"within the objective for this tier". The control (`drillbook.chaos.control`) opens the target,
runs the drill around the experiment and writes its figures into the journal.

`chaos discover --no-install drillbook` lists them: chaoslib imports the distribution's
top-level package, `drillbook`, whose `discover` hands over to `discover` here.
"""

from __future__ import annotations

from typing import Any

from drillbook import __version__

RESOURCES = ("application", "database", "cache", "vector_store", "secrets", "drill")
"""The activity packages, one per resource of the plan's scenarios (and the drill itself)."""

ACTIVITY_MODULES: tuple[tuple[str, str], ...] = (
    *((f"drillbook.chaos.{r}.actions", "action") for r in RESOURCES if r != "drill"),
    *((f"drillbook.chaos.{r}.probes", "probe") for r in RESOURCES),
    *((f"drillbook.chaos.{r}.rollbacks", "action") for r in RESOURCES),
    ("drillbook.chaos.tolerances", "probe"),
)
"""Every module of activities and the Chaos Toolkit type of the functions it exports."""


def discover(discover_system: bool = True) -> dict[str, Any]:
    """The extension's activities for `chaos discover` (drillbook has no system to report:
    the target is described by the drillbook configuration an experiment names)."""
    from chaoslib.discovery.discover import discover_activities, initialize_discovery_result

    discovery: dict[str, Any] = initialize_discovery_result("drillbook", __version__, "drillbook")
    for module, kind in ACTIVITY_MODULES:
        discovery["activities"].extend(discover_activities(module, kind))
    return discovery
