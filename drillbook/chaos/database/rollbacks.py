"""Rollbacks of scenario 2: the journaled undo of its faults (the server started again; a
damaged file put back while the damage is still there)."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["bring_database_back"]


@phase("undo")
def bring_database_back() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal: each undo and how it went."""
    return undo_faults()
