"""Two Kubernetes clusters, a primary and a DR cluster: what the quarterly full DR test drills on
platform "kubernetes" (the plan's scenario 6, Option A: `kubectl config use-context dr-cluster
&& kubectl apply -f k8s/dr/`).

    runner, users (probes, load) -> the users' view, 127.0.0.1:<port> (a PodReadinessView)
                                        | answers from the *active* cluster
                 primary cluster (kubernetes.context)     DR cluster (kubernetes.dr_context)

The users' view plays the part the front door plays for the embedded stack's two sites (and a
DNS name or a global load balancer in production): one address, whose answers come from the
cluster users are sent to, switched by the runbook (`switch_to`). The drill's target is the
primary cluster's Target (its platform, its undo journal: undos replay there as for any drill on
that cluster), with the users' view as its base URL, so the probes and the load follow the
switch without knowing there are two clusters. Every answer of the view names the cluster and
the kube context that gave it ("cluster", "context").

Nothing here connects to a cluster: drillbook.assembly.clusters_target.open_two_clusters opens
the two Targets and the view's own API connections (the view answers from its server's threads)
and hands them over; `close()` releases them all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from drillbook.core.platform import ComponentStatus
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.platforms.pod_view import PodReadinessView
from drillbook.target import Target

log = logging.getLogger(__name__)

PRIMARY = "primary"
DR = "dr"
CLUSTERS = (PRIMARY, DR)


class UsersView(PodReadinessView):
    """The pod-readiness view of whichever cluster users are sent to.

    Its observe and missing functions delegate to the active cluster's platform; one answer is
    read from one cluster (the one active when the request arrived), and says which.
    """

    def __init__(
        self,
        active: Callable[[], str],
        platforms: Mapping[str, KubernetesPlatform],
        components: Sequence[str],
    ) -> None:
        self._active_cluster = active
        self._platforms = dict(platforms)
        self._answering = threading.local()
        super().__init__(
            self._observe_active,
            self._platforms[active()].context,
            components=components,
            missing=self._missing_active,
        )

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        cluster = self._active_cluster()
        self._answering.cluster = cluster
        try:
            code, document = super().answer(path)
        finally:
            del self._answering.cluster
        return code, _labelled(document, cluster, self._platforms[cluster].context)

    def _platform(self) -> KubernetesPlatform:
        cluster = getattr(self._answering, "cluster", None) or self._active_cluster()
        return self._platforms[cluster]

    def _observe_active(self, component: str) -> tuple[ComponentStatus, list[str]]:
        return self._platform().observe(component)

    def _missing_active(self, component: str) -> list[str]:
        return self._platform().missing_config(component)


def _labelled(document: dict[str, Any], cluster: str, context: str) -> dict[str, Any]:
    """The answer with the cluster that gave it, at the top and in each component's answer."""
    labelled = {**document, "cluster": cluster, "context": context}
    components = document.get("components")
    if isinstance(components, dict):
        labelled["components"] = {
            name: {**answer, "cluster": cluster, "context": context}
            if isinstance(answer, dict)
            else answer
            for name, answer in components.items()
        }
    return labelled


class TwoClusters:
    """A primary and a DR cluster, and the users' view switched between them.

    `primary` is the drill's target: its platform acts on the primary cluster and its journal
    holds the drill's undos. `dr` is the DR cluster's Target (opened the same way: access
    checked, its own pending undos replayed). `view_platforms` are the users' view's own
    connections, one per cluster, by name (PRIMARY, DR).
    """

    def __init__(
        self,
        primary: Target,
        dr: Target,
        *,
        view_platforms: Mapping[str, KubernetesPlatform],
    ) -> None:
        missing = [name for name in CLUSTERS if name not in view_platforms]
        if missing:
            raise InvalidDrill(f"the users' view needs a connection to each cluster: {missing}")
        self.targets = {PRIMARY: primary, DR: dr}
        self._view_platforms = dict(view_platforms)
        self.components = list(primary.config.target.components)
        """The configured components (names), the same on both clusters."""
        self._active = PRIMARY
        self._lock = threading.Lock()
        self.switches: list[dict[str, Any]] = []
        """Every switch of the users' view: from, to, when (Unix time)."""
        self.primary_replicas: dict[str, int] = {}
        """Each component's replicas at the primary when the clusters were opened (after any
        pending undo was replayed): what a cold DR cluster is brought up to."""
        self.view: UsersView | None = None
        self._closed = False

    # -- the clusters ----------------------------------------------------------------------
    @property
    def primary(self) -> Target:
        return self.targets[PRIMARY]

    @property
    def dr(self) -> Target:
        return self.targets[DR]

    def target(self, cluster: str) -> Target:
        try:
            return self.targets[cluster]
        except KeyError:
            raise InvalidDrill(
                f"no cluster named {cluster!r}; the clusters are {list(CLUSTERS)}"
            ) from None

    def platform(self, cluster: str) -> KubernetesPlatform:
        platform = self.target(cluster).platform
        if not isinstance(platform, KubernetesPlatform):
            raise InvalidDrill(
                f"the {cluster} cluster's target is on platform '{platform.name}', not kubernetes"
            )
        return platform

    def context(self, cluster: str) -> str:
        """The kube context of a cluster (what `kubectl config use-context` names)."""
        return self.platform(cluster).context

    # -- the users' view -------------------------------------------------------------------
    @property
    def active(self) -> str:
        """The cluster users are sent to."""
        return self._active

    @property
    def base_url(self) -> str:
        if self.view is None:
            raise InvalidDrill("the users' view is not started: call start() first")
        return self.view.base_url

    def start(self) -> None:
        """Start the users' view (on the primary) and make it the drill target's address."""
        primary = self.platform(PRIMARY)
        self.primary_replicas = {c: primary.desired_replicas(c) for c in self.components}
        view = UsersView(lambda: self._active, self._view_platforms, self.components)
        view.start()
        self.view = view
        self.primary.config = self.primary.config.with_base_url(view.base_url)

    def switch_to(self, cluster: str) -> float:
        """Send users to `cluster` (what a DNS change or a global load balancer does); returns
        the seconds the switch took."""
        self.target(cluster)  # a known name
        started = time.monotonic()
        with self._lock:
            previous, self._active = self._active, cluster
            self.switches.append({"from": previous, "to": cluster, "at": time.time()})
        return time.monotonic() - started

    # -- teardown --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the view, close its connections and both targets (the primary last). Twice is
        harmless."""
        if self._closed:
            return
        self._closed = True
        releases: list[tuple[str, Callable[[], None]]] = []
        if self.view is not None:
            releases.append(("the users' view", self.view.stop))
        releases += [
            (f"the view's connection to the {name} cluster", platform.close)
            for name, platform in self._view_platforms.items()
        ]
        releases += [("the DR cluster's target", self.dr.close)]
        releases += [("the primary cluster's target", self.primary.close)]
        for what, release in releases:
            try:
                release()
            except Exception as exc:  # releasing one thing must not keep the rest open
                log.warning("could not release %s: %s", what, exc)
