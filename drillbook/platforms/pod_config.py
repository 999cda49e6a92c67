"""Whether a workload's pods could start now: the Secrets and ConfigMaps its pod template needs.

A kubelet refuses to start a container whose environment names a Secret or ConfigMap (or a key
of one) that does not exist (CreateContainerConfigError), and a pod whose volume does. Running
pods keep what they read when they started, so a deleted Secret is a latent outage: nothing
fails until the next pod starts (a rollout, a rescheduled or scaled pod), and then it does not
start. The platform-level health view reports it as `config_complete`, so that a drill on
simulated pods (which KWOK starts whatever they reference) sees the fault a real kubelet would.

Pure over the template and the names and keys present, so every rule is unit-tested; the
platform only lists what exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any, Literal

RefKind = Literal["secret", "configmap"]
_ENV_REFS: tuple[tuple[str, RefKind], ...] = (
    ("secretKeyRef", "secret"),
    ("configMapKeyRef", "configmap"),
)
_ENV_FROM_REFS: tuple[tuple[str, RefKind], ...] = (
    ("secretRef", "secret"),
    ("configMapRef", "configmap"),
)
_VOLUME_REFS: tuple[tuple[str, RefKind, str], ...] = (
    ("secret", "secret", "secretName"),
    ("configMap", "configmap", "name"),
)


@dataclass(frozen=True)
class ConfigRef:
    """One object (or one key of it) a pod template needs to start."""

    kind: RefKind
    name: str
    key: str | None = None
    """None: the whole object (envFrom, a volume without items)."""

    def describe(self) -> str:
        return f"{self.kind} {self.name}" + (f" (key {self.key})" if self.key else "")


def required_refs(template: Mapping[str, Any]) -> list[ConfigRef]:
    """Every non-optional Secret/ConfigMap reference of a pod template (`spec.template`)."""
    return list(dict.fromkeys(_refs(template.get("spec") or {})))


def _refs(spec: Mapping[str, Any]) -> Iterator[ConfigRef]:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for container in containers:
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for field, kind in _ENV_REFS:
                ref = source.get(field)
                if ref and not ref.get("optional"):
                    yield ConfigRef(kind, str(ref.get("name")), str(ref.get("key")))
        for env_from in container.get("envFrom") or []:
            for field, kind in _ENV_FROM_REFS:
                ref = env_from.get(field)
                if ref and not ref.get("optional"):
                    yield ConfigRef(kind, str(ref.get("name")))
    for volume in spec.get("volumes") or []:
        for field, kind, name_key in _VOLUME_REFS:
            source = volume.get(field)
            if not source or source.get("optional"):
                continue
            name = str(source.get(name_key))
            items = source.get("items") or []
            if not items:
                yield ConfigRef(kind, name)
            for item in items:
                yield ConfigRef(kind, name, str(item.get("key")))


def missing_refs(
    refs: list[ConfigRef],
    secrets: Mapping[str, Set[str]],
    configmaps: Mapping[str, Set[str]],
) -> list[str]:
    """The references that do not resolve, described for a report; [] when a pod could start.

    `secrets` and `configmaps` map the names present in the namespace to their keys.
    """
    present = {"secret": secrets, "configmap": configmaps}
    missing: list[str] = []
    for ref in refs:
        keys = present[ref.kind].get(ref.name)
        if keys is None:
            missing.append(f"{ref.kind} {ref.name} does not exist")
        elif ref.key is not None and ref.key not in keys:
            missing.append(f"{ref.kind} {ref.name} has no key {ref.key}")
    return missing
