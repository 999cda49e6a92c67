"""Rollbacks of scenario 3: the journaled undo of its faults (the Redis nodes started again)."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["bring_cache_back"]


@phase("undo")
def bring_cache_back() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal: each undo and how it went."""
    return undo_faults()
