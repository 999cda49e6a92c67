"""Opening a two-site deployment as the target of a quarterly drill.

The target's stack is the users' view (the front door's addresses), so the ledger, the load,
the probes and the data checks of the monthly drills follow the active site without knowing
there are two; the site faults' undos get their executor here.
"""

from __future__ import annotations

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.engine.undo import UndoJournal
from drillbook.probes.auth import TokenProvider
from drillbook.scenarios.sites.faults import PLATFORM, SitesUndo
from drillbook.sites.deployment import TwoSites
from drillbook.target import Target


def open_sites_target(config: DrillbookConfig, deployment: TwoSites) -> Target:
    view = deployment.users_view()
    resolved = view.configure(config)
    target = Target(
        config=resolved,
        platform=deployment.region.platform(),
        tokens=TokenProvider(resolved.target.auth, secret=view.jwt_secret),
        # Outside both sites: a site's loss must not take the journal with it.
        journal=UndoJournal(deployment.run_dir / "undo-journal.jsonl"),
        stack=view,
    )
    target.undo_executors[PLATFORM] = SitesUndo(deployment.network)
    return finish_opening(target)
