"""The rollback every experiment can use: the drill's journaled undo."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["undo_every_fault"]


@phase("undo")
def undo_every_fault() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal (what a later run of drillbook,
    `chaos run` or pytest, replays first if this one dies): each undo and how it went."""
    return undo_faults()
