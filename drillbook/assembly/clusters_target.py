"""Opening the two clusters of the quarterly full DR test on platform "kubernetes".

The primary cluster (kubernetes.context) and the DR cluster (kubernetes.dr_context) are each
opened as any drill's target is (drillbook.assembly.kubernetes_target: access checked before
anything is injected, undos a dead run left pending replayed), then handed to
drillbook.sites.clusters.TwoClusters with the users' view's own connections, and the view is
started: the primary Target, the drill's target, then answers at the view's address.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from drillbook.assembly.kubernetes_target import open_dr_target, open_kubernetes_target
from drillbook.config.model import DrillbookConfig
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.sites.clusters import DR, PRIMARY, TwoClusters


def two_clusters_unavailable(config: DrillbookConfig) -> str | None:
    """Why this configuration cannot drill two clusters, or None when it can."""
    if config.platform != "kubernetes":
        return (
            "the two-cluster DR test runs on platform 'kubernetes' (a primary and a DR "
            f"cluster: kubernetes.context and kubernetes.dr_context); this configuration "
            f"({config.source}) drills platform '{config.platform}', whose quarterly drills run "
            "on the embedded stack's two sites (the other drills of this module)"
        )
    settings = config.kubernetes
    if not settings.dr_context:
        return (
            "the two-cluster DR test fails over to the DR cluster named by "
            f"kubernetes.dr_context, which this configuration ({config.source}) does not set; "
            'name the DR cluster\'s kube context there (e.g. dr_context = "dr-cluster")'
        )
    if settings.probes != "pod-readiness":
        return (
            f'with kubernetes.probes = "{settings.probes}" users reach '
            f"{config.target.base_url or 'target.base_url'}, one address drillbook cannot move "
            "to the DR cluster (a DNS name or a global load balancer does that); the "
            'two-cluster DR test needs kubernetes.probes = "pod-readiness", where drillbook '
            "serves the users' view of the clusters and switches it"
        )
    if settings.context and settings.context == settings.dr_context:
        return (
            f"kubernetes.context and kubernetes.dr_context both name '{settings.context}': "
            "a failover to the cluster that was lost is no failover"
        )
    return None


def open_two_clusters(config: DrillbookConfig) -> TwoClusters:
    """Both clusters opened, the users' view started on the primary."""
    reason = two_clusters_unavailable(config)
    if reason is not None:
        raise InvalidDrill(f"{config.source}: {reason}")
    releases: list[Callable[[], None]] = []
    try:
        primary = open_kubernetes_target(config)
        releases.append(primary.close)
        dr = open_dr_target(config)
        releases.append(dr.close)
        views: dict[str, KubernetesPlatform] = {}
        for name, target in ((PRIMARY, primary), (DR, dr)):
            platform = target.platform
            if not isinstance(platform, KubernetesPlatform):  # open_kubernetes_target's own
                raise InvalidDrill(f"the {name} cluster opened on platform '{platform.name}'")
            views[name] = KubernetesPlatform.from_settings(
                config.kubernetes,
                list(config.target.components.values()),
                context=platform.context,
            )
            releases.append(views[name].close)
        servers = {name: view.connection.server for name, view in views.items()}
        if servers[PRIMARY] == servers[DR]:
            raise InvalidDrill(
                f"{config.source}: kube contexts '{views[PRIMARY].context}' "
                f"(kubernetes.context) and '{views[DR].context}' (kubernetes.dr_context) reach "
                f"the same API server {servers[PRIMARY]}: a failover to the cluster that was "
                "lost is no failover; name the DR cluster's context in kubernetes.dr_context"
            )
        clusters = TwoClusters(primary, dr, view_platforms=views)
    except BaseException:
        for release in reversed(releases):
            with contextlib.suppress(Exception):
                release()
        raise
    try:
        clusters.start()
    except BaseException:
        clusters.close()
        raise
    return clusters
