"""The target of a drill on platform `kubernetes`: a cluster reached through a kube context.

Called by `drillbook.assembly.target.open_target`. It connects to the configured context (or the DR
context), checks before anything is injected that the namespaces exist and that RBAC allows the
drills' calls, replays undos a dead run left pending for that context, and, with
`kubernetes.probes = "pod-readiness"`, serves the pods' readiness as the probes' base URL.

One run per cluster, also across machines: besides the local lock, the run holds the cluster's
Lease (drillbook.platforms.kube_lease), and its undo journal is mirrored into the cluster's
undo record (drillbook.platforms.kube_journal), merged with the local journal before the replay:
a runner on another machine, or with an empty cache, replays what a dead run left.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from drillbook.assembly.undo import finish_opening
from drillbook.config.model import DrillbookConfig
from drillbook.config.sections.allow import refuse_unlisted_server
from drillbook.engine.lock import TargetLock
from drillbook.engine.stop import halt_request_path
from drillbook.engine.undo import UndoJournal
from drillbook.errors import InvalidDrill
from drillbook.platforms.kube_connect import connect
from drillbook.platforms.kube_journal import ClusterJournal
from drillbook.platforms.kube_lease import ClusterLock, LeaseApi, ServerClock, check_lock_access
from drillbook.platforms.kubernetes import KubeComponent, KubernetesPlatform
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
    platform.allow = config.allow
    closers = [platform.close]
    try:
        # Before any call that acts: the context must point where the allow-list says.
        refuse_unlisted_server(config.allow, platform.context, platform.connection.server)
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
        cluster_journal = _hold_cluster(config, platform, halt_request_path(path), closers)
        journal = UndoJournal(path, mirror=cluster_journal.mirror)
        # Before the replay: what a run elsewhere left pending joins the local journal.
        cluster_journal.sync(journal)
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


def lock_namespace(config: DrillbookConfig) -> str:
    """Where the cluster's Lease and undo record are: kubernetes.lock_namespace, else the first
    configured component's namespace."""
    first = next(iter(config.target.components.values()))
    return config.kubernetes.lock_namespace or KubeComponent.from_config(first).namespace


def _hold_cluster(
    config: DrillbookConfig,
    platform: KubernetesPlatform,
    halt_request: Path,
    closers: list[Callable[[], None]],
) -> ClusterJournal:
    """Take the cluster's Lease (TargetInUse naming a live holder) and return its undo record.
    The Lease is renewed on a connection of its own, from its own thread."""
    settings = config.kubernetes
    namespace = lock_namespace(config)
    check_lock_access(platform.connection.api, namespace=namespace, context=platform.context)
    connection = connect(
        settings.kubeconfig, platform.context, request_timeout=settings.request_timeout_seconds
    )
    closers.append(connection.close)
    leases = LeaseApi(
        connection.api,
        namespace=namespace,
        context=platform.context,
        request_timeout=connection.request_timeout,
    )
    cluster_lock = ClusterLock(
        leases,
        ServerClock(connection.api, connection.request_timeout),
        server=connection.server,
        duration_seconds=settings.lock_duration_seconds,
        halt_request=halt_request,
    )
    cluster_lock.acquire()
    closers.append(cluster_lock.release)
    return ClusterJournal(
        platform.connection.api,
        namespace=namespace,
        context=platform.context,
        request_timeout=platform.connection.request_timeout,
    )


def open_dr_target(config: DrillbookConfig) -> Target:
    """The same components on the DR cluster (kubernetes.dr_context)."""
    if not config.kubernetes.dr_context:
        raise InvalidDrill(
            f"{config.source}: key 'kubernetes.dr_context' is not set; name the DR cluster's "
            'kube context there (e.g. dr_context = "dr-cluster")'
        )
    return open_kubernetes_target(config, context=config.kubernetes.dr_context)
