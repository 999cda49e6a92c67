"""Configuration loss: checksums of the files the target declares, before the drill and after.

The plan allows no loss of configuration ("version controlled"); a restore that brings the data
back but not the server's configuration (pg_dump does not carry postgresql.conf) loses some.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drillbook.config.model import Objectives
from drillbook.core.companions import Attachment

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target


def file_checksum(path: Path) -> str | None:
    """sha256 of the file's bytes; None when it does not exist or cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class ConfigurationCheck:
    declared: int
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    """Files there before the drill and gone after."""
    absent_before: tuple[str, ...]
    """Declared files that did not exist when the drill started (not counted as lost)."""

    @property
    def lost(self) -> int:
        return len(self.changed) + len(self.missing)

    def figures(self) -> dict[str, Any]:
        return {
            "declared": self.declared,
            "lost": self.lost,
            "changed": list(self.changed),
            "missing": list(self.missing),
            "absent_before": list(self.absent_before),
        }


def compare_checksums(
    before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> ConfigurationCheck:
    """What changed between two checksum maps (label -> sha256 or None when absent)."""
    changed = tuple(
        label
        for label, digest in before.items()
        if digest is not None and after.get(label) is not None and after[label] != digest
    )
    missing = tuple(
        label for label, digest in before.items() if digest is not None and after.get(label) is None
    )
    absent = tuple(label for label, digest in before.items() if digest is None)
    return ConfigurationCheck(len(before), changed, missing, absent)


class ConfigurationChecksums:
    """A companion: checksums taken when the drill starts, compared when it asserts."""

    name = "configuration"

    def __init__(self, files: Mapping[str, Path], *, objectives: Objectives) -> None:
        self._files = dict(files)
        self._objectives = objectives
        self.before: dict[str, str | None] = {}
        self.last: ConfigurationCheck | None = None

    def _checksums(self) -> dict[str, str | None]:
        return {label: file_checksum(path) for label, path in self._files.items()}

    def start(self, drill: Drill | None = None) -> None:
        self.before = self._checksums()

    def stop(self, drill: Drill | None = None) -> None:
        self.check()

    def check(self) -> ConfigurationCheck:
        self.last = compare_checksums(self.before, self._checksums())
        return self.last

    def objective_breaches(self, drill: Drill) -> list[str]:
        result = self.check()
        allowed = self._objectives.configuration_loss_allowed
        if result.lost <= allowed:
            return []
        what = ", ".join(
            [*(f"{n} changed" for n in result.changed)] + [f"{n} missing" for n in result.missing]
        )
        return [
            f"RPO breach: configuration lost: {result.lost} of {result.declared} declared "
            f"file(s) differ from before the drill ({what}); {allowed} allowed (the plan: "
            "configuration is version controlled, zero loss)"
        ]

    def figures(self) -> Mapping[str, Any]:
        result = self.last or compare_checksums(self.before, self.before)
        return {"files": sorted(self._files), **result.figures()}

    def attachments(self) -> list[Attachment]:
        return []


def declared_files(labels: Sequence[str], base: Path) -> dict[str, Path]:
    """Declared paths by label; relative ones under `base`."""
    return {label: (Path(label) if Path(label).is_absolute() else base / label) for label in labels}


def configuration_companion(
    target: Target, identity: DrillIdentity
) -> ConfigurationChecksums | None:
    """The companion factory: when the configuration declares configuration files."""
    labels = target.config.ledger.configuration_files
    if not labels:
        return None
    base = target.stack.run_dir if target.stack is not None else Path.cwd()
    return ConfigurationChecksums(declared_files(labels, base), objectives=target.config.objectives)
