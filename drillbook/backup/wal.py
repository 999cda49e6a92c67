"""WAL files as point-in-time recovery must judge them: names, first-page headers, timelines,
and which of two copies of one segment holds more of the cluster's WAL.

Pure functions over files (no server): what `drillbook.backup.pitr` decides with them.

A segment file's first page carries a long header (PostgreSQL's XLogLongPageHeaderData, the
layout of every release since 9.x, little-endian here): magic, info, timeline, page address,
then the cluster's system identifier and the segment size. A file whose first page does not
name this cluster and this segment's address holds no WAL of that name: a pre-allocated or
recycled file (recycling renames an old segment to a future name and leaves its old content),
or a file of another cluster (a re-initialised one uses the same names again).
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass
from pathlib import Path

SEGMENT_NAME = re.compile(
    r"(?P<tli>[0-9A-F]{8})(?P<log>[0-9A-F]{8})(?P<seg>[0-9A-F]{8})(?P<partial>\.partial)?"
)
HISTORY_NAME = re.compile(r"(?P<tli>[0-9A-F]{8})\.history")

_LONG_HEADER = struct.Struct("<HHIQI4xQII")
"""xlp_magic, xlp_info, xlp_tli, xlp_pageaddr, xlp_rem_len, (padding), xlp_sysid,
xlp_seg_size, xlp_xlog_blcksz."""
_XLP_LONG_HEADER = 0x0002
_SYSTEM_IDENTIFIER = struct.Struct("<Q")
"""The first field of pg_control (ControlFileData.system_identifier)."""


def is_wal_file(name: str) -> bool:
    """A segment (or its `.partial`) or a timeline history file."""
    return SEGMENT_NAME.fullmatch(name) is not None or HISTORY_NAME.fullmatch(name) is not None


def timeline_of(name: str) -> int | None:
    """The timeline a WAL file's name belongs to, or None for another file."""
    match = SEGMENT_NAME.fullmatch(name) or HISTORY_NAME.fullmatch(name)
    return int(match["tli"], 16) if match else None


def segment_start(name: str, segment_size: int) -> int:
    """The WAL address where the segment of this name starts."""
    match = SEGMENT_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"{name!r} is not a WAL segment name")
    return int(match["log"], 16) * 0x1_0000_0000 + int(match["seg"], 16) * segment_size


@dataclass(frozen=True)
class SegmentHeader:
    """The long header on a segment file's first page."""

    timeline: int
    page_address: int
    system_identifier: int
    segment_size: int


def read_segment_header(path: Path) -> SegmentHeader | None:
    """The first page's long header, or None when the file has none (empty, zeroed, short)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_LONG_HEADER.size)
    except OSError:
        return None
    if len(raw) < _LONG_HEADER.size:
        return None
    _magic, info, tli, pageaddr, _rem, sysid, seg_size, _blcksz = _LONG_HEADER.unpack(raw)
    if not info & _XLP_LONG_HEADER:
        return None
    return SegmentHeader(tli, pageaddr, sysid, seg_size)


def segment_problem(path: Path, name: str, system_identifier: int) -> str | None:
    """Why `path` is not the WAL segment `name` of the cluster `system_identifier`, or None.

    The first page of a segment created on a new timeline still carries the old timeline (the
    promotion copies the old segment's beginning), so its header's timeline may be lower than
    the name's, never higher.
    """
    header = read_segment_header(path)
    if header is None:
        return "no WAL page header (an empty or pre-allocated file)"
    if header.system_identifier != system_identifier:
        return (
            f"another cluster's WAL (system identifier {header.system_identifier}, "
            f"not {system_identifier})"
        )
    if header.segment_size <= 0 or path.stat().st_size != header.segment_size:
        return f"{path.stat().st_size} bytes where the header says {header.segment_size}"
    if header.page_address != segment_start(name, header.segment_size):
        return "a recycled file: its first page holds older WAL than its name"
    tli = timeline_of(name)
    if tli is None or header.timeline > tli:
        return f"its first page is on timeline {header.timeline}, after its name's"
    return None


class Relation(enum.Enum):
    """How another copy of a WAL file stands to the failed cluster's own copy."""

    IDENTICAL = "identical"
    COVERS = "covers"
    """The other copy holds all of ours and more."""
    SUPERSEDED = "superseded"
    """Ours holds all of the other copy and more, or the other is not this cluster's WAL."""
    CONFLICT = "conflict"
    """Both hold WAL of this cluster that the other does not: they diverged."""


def _holds(longer: bytes, shorter: bytes) -> bool:
    """Everything `shorter` holds (up to its zero padding) is the beginning of `longer`.

    pg_basebackup streams the WAL after the backup's end into a zero-padded file, and a copy
    cut short by a crash ends early: both are a beginning of the full segment.
    """
    return longer.startswith(shorter.rstrip(b"\0"))


def relate_copies(ours: Path, other: Path, *, name: str, system_identifier: int) -> Relation:
    """Compare the failed cluster's own copy of a WAL file with another copy of that name.

    `system_identifier` (the failed cluster's) tells another cluster's segment, which is not
    ours whatever it holds, from a diverged copy of this cluster's.
    """
    mine = ours.read_bytes()
    theirs = other.read_bytes()
    if mine == theirs:
        return Relation.IDENTICAL
    if SEGMENT_NAME.fullmatch(name):
        base_name = name.removesuffix(".partial")
        if segment_problem(other, base_name, system_identifier) is not None:
            return Relation.SUPERSEDED
    if _holds(theirs, mine):
        return Relation.COVERS
    if _holds(mine, theirs):
        return Relation.SUPERSEDED
    if HISTORY_NAME.fullmatch(name):
        # The failed cluster's own history file is its lineage; another one of that number
        # is a foreign branch (a restore test that promoted and archived into this archive).
        return Relation.SUPERSEDED
    return Relation.CONFLICT


def system_identifier(data_dir: Path) -> int | None:
    """The cluster's system identifier from its pg_control (the first field), if readable."""
    try:
        with open(data_dir / "global" / "pg_control", "rb") as fh:
            raw = fh.read(_SYSTEM_IDENTIFIER.size)
    except OSError:
        return None
    if len(raw) < _SYSTEM_IDENTIFIER.size:
        return None
    return int(_SYSTEM_IDENTIFIER.unpack(raw)[0]) or None


def cluster_timeline(pg_wal: Path, system_identifier: int) -> int | None:
    """The timeline a (failed) cluster was on: the newest of its own WAL files in pg_wal.

    Its current segment and its timeline's history file (kept in pg_wal for good) name it;
    pre-allocated, recycled and foreign files do not count. None when pg_wal is unreadable or
    holds no WAL of this cluster.
    """
    try:
        paths = [p for p in pg_wal.iterdir() if p.is_file()]
    except OSError:
        return None
    timelines = [_own_timeline(p, system_identifier) for p in paths]
    return max((t for t in timelines if t is not None), default=None)


def _own_timeline(path: Path, system_identifier: int) -> int | None:
    """The timeline of a history file, or of a segment of this cluster (not a `.partial`)."""
    if HISTORY_NAME.fullmatch(path.name):
        return timeline_of(path.name)
    match = SEGMENT_NAME.fullmatch(path.name)
    if match is None or match["partial"]:
        return None
    if segment_problem(path, path.name, system_identifier) is not None:
        return None
    return timeline_of(path.name)


def choose_timeline(failed_tli: int | None) -> str:
    """recovery_target_timeline for a restore of the failed cluster.

    The failed cluster's own timeline: "latest" follows the newest history file in the
    archive, which may be a foreign branch (a restore test that promoted and archived there)
    whose branch point precedes everything written since. PostgreSQL itself refuses a timeline
    that does not descend from the base backup's. Only when the failed cluster left no WAL to
    say which timeline it was on is "latest" the best there is.
    """
    return "latest" if failed_tli is None else str(failed_tli)
