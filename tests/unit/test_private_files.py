"""A secret is never written into a file others can read, not even one that was there."""

from __future__ import annotations

import stat
from pathlib import Path

from drillbook.core.private_files import write_private


def test_an_existing_readable_file_becomes_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old")
    path.chmod(0o644)  # left readable by someone, or by an earlier version
    write_private(path, "s3cr3t-token")
    assert path.read_text() == "s3cr3t-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temporary left


def test_a_new_file_is_owner_only_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    write_private(path, b'{"jwt": "x"}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b'{"jwt": "x"}'
