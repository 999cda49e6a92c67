"""The `[kubernetes]` table: how drillbook reaches and acts on a cluster (platform
"kubernetes")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.schema import Choice, Context, Duration, PathText, Text, build, setting

__all__ = ["KUBERNETES_PROBE_MODES", "KubernetesProbeMode", "KubernetesSettings", "parse"]

KubernetesProbeMode = Literal["http", "pod-readiness"]
KUBERNETES_PROBE_MODES: Final[tuple[KubernetesProbeMode, ...]] = get_args(KubernetesProbeMode)


@dataclass(frozen=True)
class KubernetesSettings:
    """How drillbook reaches and acts on a Kubernetes cluster (platform "kubernetes")."""

    kubeconfig: str | None = field(
        default=None,
        metadata=setting(
            PathText(), "The kubeconfig file; not set reads $KUBECONFIG, then ~/.kube/config."
        ),
    )
    context: str | None = field(
        default=None,
        metadata=setting(
            Text(),
            "The kube context drills run against; not set uses the kubeconfig's current context.",
        ),
    )
    dr_context: str | None = field(
        default=None,
        metadata=setting(
            Text(),
            "The disaster-recovery cluster's kube context, for drills that fail over to it.",
        ),
    )
    probes: KubernetesProbeMode = field(
        default="http",
        metadata=setting(
            Choice(KUBERNETES_PROBE_MODES),
            '"http": the probes call target.base_url, the service as users reach it. '
            '"pod-readiness": the target serves no HTTP (simulated pods): drillbook serves each '
            "component's Ready pods behind its selector, read from the API server, at "
            "`/components/<name>` on a loopback address that becomes target.base_url.",
        ),
    )
    kill_grace_period_seconds: float = field(
        default=0.0,
        metadata=setting(
            Duration(),
            "Grace period of the pod deletions a fault makes; 0 force-deletes, like a SIGKILL.",
            key="kill_grace_period",
        ),
    )
    request_timeout_seconds: float = field(
        default=10.0,
        metadata=setting(
            Duration(positive="a duration > 0"),
            "Timeout of each call to the API server.",
            key="request_timeout",
        ),
    )
    lock_namespace: str | None = field(
        default=None,
        metadata=setting(
            Text(),
            "The namespace of the cluster's drill lock (Lease drillbook-drill-lock) and undo "
            "record (ConfigMap drillbook-undo-journal); not set uses the first configured "
            "component's namespace. Every configuration drilling one cluster must name the same "
            "namespace, or their runs do not exclude each other.",
        ),
    )
    lock_duration_seconds: float = field(
        default=60.0,
        metadata=setting(
            Duration(positive="a duration > 0"),
            "How long the cluster's drill lock outlives its last renewal (the run renews it a "
            "third of that apart): a run that died holds the cluster at most this long.",
            key="lock_duration",
        ),
    )


def parse(context: Context, table: dict[str, Any]) -> KubernetesSettings:
    return build(context, "kubernetes", table, KubernetesSettings)
