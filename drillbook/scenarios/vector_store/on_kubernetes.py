"""The precedent ledger on platform kubernetes (a kind cluster): Weaviate reached through its
NodePort, its files through the node's volume, its backups kept off the cluster; where and how,
drillbook.backup.weaviate_kubernetes says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drillbook.backup.weaviate_kubernetes import (
    ROLE,
    kubernetes_vector_backups,
    kubernetes_weaviate_endpoint,
)
from drillbook.engine.reach import end_to_end
from drillbook.errors import InvalidDrill
from drillbook.platforms.kubernetes import KubernetesPlatform
from drillbook.probes.weaviate import WeaviateProbe
from drillbook.scenarios.vector_store.companion import PrecedentLedger

if TYPE_CHECKING:
    from drillbook.target import Target


def kubernetes_ledger(target: Target) -> PrecedentLedger | None:
    """The precedent ledger on a cluster whose Weaviate serves (None where pods are simulated,
    or no component has the vector-store role: the drills' fixture says why)."""
    if not end_to_end(target.config):
        return None
    platform = target.platform
    if not isinstance(platform, KubernetesPlatform):
        raise InvalidDrill(f"platform kubernetes expected, got {platform.name}")
    names = [n for n, c in target.config.target.components.items() if c.role == ROLE]
    if not names:
        return None
    weaviate = kubernetes_weaviate_endpoint(platform, names[0])
    backups = kubernetes_vector_backups(weaviate)
    return PrecedentLedger(
        base_url=target.base_url,
        tokens=target.tokens,
        weaviate=WeaviateProbe(weaviate.url),
        backups=backups,
    )
