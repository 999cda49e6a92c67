"""Site faults of the plan's scenario 6, Complete Infrastructure Failure.

- `lose_site`: the whole site is gone: its link drops, every process dies (SIGKILL, supervisord
  included) and its disks are wiped; nothing of it is left to recover from.
- `partition_site`: the site is cut off from users, the other site and the off-site store, but
  keeps running: the case where split brain can happen.
- `cut_replication`: only the link between two sites is cut (users still reach both): the
  primary acknowledges writes that never reach the DR site.

Each carries a journaled undo (`UndoAction(platform="sites", ...)`, executed by
`SitesUndo`): reconnect the link, heal the cut. A lost site is rebuilt by the failback runbook
within a drill, and by a fresh deployment for the next one (drillbook.sites.deployment).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drillbook.core.polling import poll_until
from drillbook.core.steps import Fault, undone_by
from drillbook.core.undo import UndoAction
from drillbook.errors import FaultFailed, StackError
from drillbook.scenarios.sites.replication import replication_status
from drillbook.sites.deployment import TwoSites
from drillbook.sites.network import SiteNetwork
from drillbook.stack.local_stack import pid_alive

PLATFORM = "sites"


@undone_by("reconnect the site's link (the site itself is rebuilt by failback)")
def lose_site(deployment: TwoSites, site: str) -> Fault:
    """Every process of the site SIGKILLed, its data wiped and its link down."""
    target = deployment.site(site)

    def inject() -> Mapping[str, Any]:
        stack = target.require_stack()
        lag = replication_status(deployment)
        pids = stack.pids()
        deployment.network.isolate(site)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        alive = [pid for pid in pids if _wait_dead(pid)]
        if alive:
            raise FaultFailed(f"site {site}: processes {alive} survived SIGKILL")
        wiped = _wipe(target.run_dir)
        target.stack = None
        return {
            "site": site,
            "processes_killed": len(pids),
            "bytes_wiped": wiped,
            "replication_at_fault": lag,
        }

    return Fault(
        name=f"site {site} lost",
        description=f"site {site} lost: link down, every process killed, its disks wiped",
        inject=inject,
        undo=UndoAction(
            description=f"reconnect site {site}'s link (the site is rebuilt by failback or "
            "by the next deployment)",
            platform=PLATFORM,
            verb="reconnect",
            args={"namespace": deployment.network.link(site).namespace, "site": site},
        ),
    )


@undone_by("reconnect the site to users")
def partition_site(deployment: TwoSites, site: str) -> Fault:
    """The site cut off from users (the front door, the off-site store) but alive, and still
    linked to the other site: the users on its side of the cut can still reach it."""

    def inject() -> Mapping[str, Any]:
        lag = replication_status(deployment)
        deployment.network.cut_from_users(site)
        return {"site": site, "replication_at_fault": lag}

    return Fault(
        name=f"site {site} partitioned",
        description=f"site {site} cut off from users and the off-site store (it keeps "
        "running, and still reaches the other site)",
        inject=inject,
        undo=UndoAction(
            description=f"reconnect site {site} to users",
            platform=PLATFORM,
            verb="reconnect_users",
            args={"namespace": deployment.network.link(site).namespace, "site": site},
        ),
    )


@undone_by("heal the link between the sites")
def cut_replication(deployment: TwoSites) -> Fault:
    """Only the inter-site traffic dropped: replication stops, users still reach both sites."""
    first, second = deployment.settings.primary, deployment.settings.dr

    def inject() -> Mapping[str, Any]:
        lag = replication_status(deployment)
        deployment.network.cut_between(first, second)
        return {"between": [first, second], "replication_at_fault": lag}

    return Fault(
        name="inter-site link cut",
        description=f"traffic between sites {first} and {second} dropped",
        inject=inject,
        undo=UndoAction(
            description=f"heal the link between {first} and {second}",
            platform=PLATFORM,
            verb="heal_between",
            args={
                "namespaces": [
                    deployment.network.link(first).namespace,
                    deployment.network.link(second).namespace,
                ],
                "sites": [first, second],
            },
        ),
    )


class SitesUndo:
    """Executes the journaled undos of site faults; a namespace already gone (the deployment
    removed, by its owner or its watchdog) means there is nothing left to undo."""

    def __init__(self, network: SiteNetwork | None) -> None:
        self.network = network

    def __call__(self, action: UndoAction) -> None:
        namespaces = action.args.get("namespaces") or [action.args.get("namespace")]
        if self.network is None or any(
            not os.path.exists(f"/run/netns/{ns}") for ns in namespaces if ns
        ):
            return
        if action.verb == "reconnect":
            self.network.reconnect(str(action.args["site"]))
        elif action.verb == "reconnect_users":
            self.network.reconnect_users(str(action.args["site"]))
        elif action.verb == "heal_between":
            first, second = action.args["sites"]
            self.network.heal_between(str(first), str(second))
        else:
            raise StackError(f"unknown site undo verb {action.verb!r} in the undo journal")


def _wait_dead(pid: int) -> bool:
    """True when `pid` is still alive after a bounded wait."""
    return bool(
        poll_until(lambda: pid_alive(pid), lambda alive: not alive, timeout=10.0, interval=0.05)
    )


def _wipe(run_dir: Path) -> int:
    """Remove everything in the site's run directory; returns the bytes removed."""
    root = run_dir
    size = 0
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                size += path.stat().st_size
    for child in list(root.iterdir()) if root.exists() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()
    return size
