"""The embedded PostgreSQL's archive_command, run through a real shell as the server runs it.

The server substitutes %p (the segment's path) and %f (its file name) and runs the command
with `sh -c`; a zero exit means "archived", anything else "try again later".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drillbook.backup.pitr import merge_archive
from drillbook.stack.services.postgres import ARCHIVE_TEMPORARY_PREFIX, wal_archive_command

SEGMENT = "000000010000000000000003"


def _archive(archive: Path, source: Path) -> int:
    command = wal_archive_command(archive).replace("%p", str(source)).replace("%f", source.name)
    return subprocess.run(["sh", "-c", command], check=False, capture_output=True).returncode


@pytest.fixture
def segment(tmp_path: Path) -> Path:
    pg_wal = tmp_path / "pg_wal"
    pg_wal.mkdir()
    path = pg_wal / SEGMENT
    path.write_bytes(b"W" * 65536)
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    # A space in the path: the command must quote it.
    path = tmp_path / "wal archive"
    path.mkdir()
    return path


def test_a_segment_is_archived_whole_under_its_own_name(segment: Path, archive: Path) -> None:
    assert _archive(archive, segment) == 0
    assert (archive / SEGMENT).read_bytes() == segment.read_bytes()
    assert [p.name for p in archive.iterdir()] == [SEGMENT]


def test_an_archived_segment_is_never_overwritten(segment: Path, archive: Path) -> None:
    (archive / SEGMENT).write_bytes(b"first copy")
    assert _archive(archive, segment) != 0
    assert (archive / SEGMENT).read_bytes() == b"first copy"


def test_a_copy_that_fails_leaves_no_segment_under_its_final_name(
    tmp_path: Path, archive: Path
) -> None:
    unreadable = tmp_path / SEGMENT  # does not exist: cp fails as a killed copy would
    assert _archive(archive, unreadable) != 0
    assert not (archive / SEGMENT).exists()


def test_a_truncated_copy_left_by_a_killed_archiver_does_not_block_the_next_attempt(
    segment: Path, archive: Path
) -> None:
    leftover = archive / (ARCHIVE_TEMPORARY_PREFIX + SEGMENT)
    leftover.write_bytes(b"W" * 100)  # what a cp SIGKILLed halfway leaves
    assert _archive(archive, segment) == 0
    assert (archive / SEGMENT).read_bytes() == segment.read_bytes()
    assert not leftover.exists()


def test_merging_a_scratch_archive_skips_unfinished_copies(tmp_path: Path, archive: Path) -> None:
    pending = tmp_path / "pending"
    pending.mkdir()
    (pending / SEGMENT).write_bytes(b"whole")
    (pending / (ARCHIVE_TEMPORARY_PREFIX + "000000010000000000000004")).write_bytes(b"half")
    assert merge_archive(pending, archive) == [SEGMENT]
    assert [p.name for p in archive.iterdir()] == [SEGMENT]
