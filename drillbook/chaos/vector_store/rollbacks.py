"""Rollbacks of scenario 4: the journaled undo of its faults (Weaviate started again; its data
directory and local backups put back where a restore has not replaced them)."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["bring_vector_store_back"]


@phase("undo")
def bring_vector_store_back() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal: each undo and how it went."""
    return undo_faults()
