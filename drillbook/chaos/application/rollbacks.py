"""Rollbacks of scenario 1: the journaled undo of its faults (replicas back to their desired
count, or scaled back), the same undo a later run replays if this one dies."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["bring_application_back"]


@phase("undo")
def bring_application_back() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal: each undo and how it went."""
    return undo_faults()
