"""The platforms drills run on: the top-level `platform` key, which other sections' rules read."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["PLATFORMS", "PlatformName"]

PlatformName = Literal["local", "kubernetes", "docker"]
PLATFORMS: Final[tuple[PlatformName, ...]] = get_args(PlatformName)
