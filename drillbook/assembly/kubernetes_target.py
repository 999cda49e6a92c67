"""The target of a drill on platform `kubernetes`: a cluster reached through a kube context.

Called by `drillbook.assembly.target.open_target`. It connects to the configured context (or the DR
context), checks before anything is injected that the namespaces exist and that RBAC allows the
drills' calls, replays undos a dead run left pending for that context, and, with
`kubernetes.probes = "pod-readiness"`, serves the pods' readiness as the probes' base URL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.engine.lock import TargetLock
from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.platforms.pod_view import PodReadinessView
from drillbook.probes.auth import TokenProvider
from drillbook.target import Target


def journal_root() -> Path:
    """Where the Kubernetes undo journals (and their locks) of this machine are."""
    cache = os.environ.get("DRILLBOOK_CACHE") or Path.home() / ".cache" / "drillbook"
    return Path(cache) / "undo" / "kubernetes"


def journal_path(context: str, server: str, root: Path | None = None) -> Path:
    """The undo journal of one cluster: a run that dies leaves its pending undos where the next
    run against the same context and API server looks (two clusters that happen to share a
    context name never replay each other's undos)."""
    base = root or journal_root()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", context)
    digest = hashlib.sha256(server.encode()).hexdigest()[:12]
    return base / f"{safe}-{digest}.jsonl"


def open_kubernetes_target(config: DrillbookConfig, *, context: str | None = None) -> Target:
    """Connect to `context` (default kubernetes.context), check access, replay pending undos."""
    settings = config.kubernetes
    components = list(config.target.components.values())
    if not components:
        raise InvalidDrill(
            f"{config.source}: platform 'kubernetes' needs [target.components.*] tables with "
            "namespace, selector and workload (e.g. app in eleanor-v8, app=eleanor-v8, "
            "deployment/eleanor-v8)"
        )
    platform = KubernetesPlatform.from_settings(settings, components, context=context)
    closers = [platform.close]
    try:
        platform.check_access()
        resolved = config
        if settings.probes == "pod-readiness":
            # The view gets its own connection: it answers from the prober's thread.
            view_platform = KubernetesPlatform.from_settings(
                settings, components, context=platform.context
            )
            closers.append(view_platform.close)
            # The view reads what each pod template needs (Secrets, ConfigMaps): a refusal
            # (RBAC) is one message with the rule to add now, not a baseline that never passes.
            for component in components:
                view_platform.missing_config(component.name)
            view = PodReadinessView(
                view_platform.observe,
                platform.context,
                components=[c.name for c in components],
                missing=view_platform.missing_config,
            )
            view.start()
            closers.append(view.stop)
            resolved = config.with_base_url(view.base_url)
        kubernetes = dataclasses.replace(settings, context=platform.context)
        resolved = dataclasses.replace(resolved, kubernetes=kubernetes)
        path = journal_path(platform.context, platform.connection.server)
        # Taken before the journal is read: its replay belongs to one run only.
        lock = TargetLock(
            path.with_suffix(".lock"),
            target=f"kube context {platform.context}",
            halt_request=halt_request_path(path),
        )
        lock.acquire()
        closers.append(lock.release)
        journal = UndoJournal(path)
        target = Target(
            config=resolved,
            platform=platform,
            tokens=TokenProvider(resolved.target.auth),
            journal=journal,
        )
        target.closers.extend(closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return finish_opening(target)


def open_dr_target(config: DrillbookConfig) -> Target:
    """The same components on the DR cluster (kubernetes.dr_context)."""
    if not config.kubernetes.dr_context:
        raise InvalidDrill(
            f"{config.source}: key 'kubernetes.dr_context' is not set; name the DR cluster's "
            'kube context there (e.g. dr_context = "dr-cluster")'
        )
    return open_kubernetes_target(config, context=config.kubernetes.dr_context)
