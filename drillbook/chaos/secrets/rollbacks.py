"""Rollbacks of scenario 5: the journaled undo of its faults (the secret restored to its value
before the drill, the application's access re-issued, the provider started again)."""

from typing import Any

from drillbook.chaos.activity import phase
from drillbook.chaos.undo import undo_faults

__all__ = ["bring_secrets_back"]


@phase("undo")
def bring_secrets_back() -> list[dict[str, Any]]:
    """Undo every fault of the drill from its undo journal: each undo and how it went."""
    return undo_faults()
