"""The pure parts of point-in-time recovery: which timeline to recover to, which WAL to take
from a failed cluster's pg_wal (by content, not by name), and how it joins the archive.

Segments here are small synthetic files with PostgreSQL's long page header; the same paths
against a real server: tests/integration/test_pitr_wal_salvage.py.
"""

from __future__ import annotations

import shlex
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drillbook.backup.pitr import (
    Salvage,
    merge_salvaged,
    recovery_settings,
    restore_command,
    salvage_wal,
)
from drillbook.backup.wal import (
    Relation,
    choose_timeline,
    cluster_timeline,
    is_wal_file,
    relate_copies,
    segment_problem,
    segment_start,
    system_identifier,
    timeline_of,
)

SYSID = 7712915795328995121
OTHER_SYSID = 7712999999999999999
SEG_SIZE = 32 * 1024  # PostgreSQL's is 16 MiB; the header says which
_HEADER = struct.Struct("<HHIQI4xQII")


def segment(
    name: str,
    payload: bytes = b"wal records",
    *,
    sysid: int = SYSID,
    tli: int | None = None,
    page_address: int | None = None,
    size: int = SEG_SIZE,
) -> bytes:
    """A segment file: long header, `payload`, zero padding to `size`."""
    header = _HEADER.pack(
        0xD110,
        0x0002,
        tli if tli is not None else int(name[:8], 16),
        page_address if page_address is not None else segment_start(name, SEG_SIZE),
        0,
        sysid,
        SEG_SIZE,
        8192,
    )
    data = header + payload
    return data + bytes(size - len(data))


def put(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content)
    return directory / name


SEG3 = "000000010000000000000003"
FULL = segment(SEG3, b"before-backup|after-backup|up-to-the-crash")
STREAMED = segment(SEG3, b"before-backup|after-backup")  # pg_basebackup's part, zero-padded


# --------------------------------------------------------------------------- names, headers


def test_wal_file_names_and_their_timelines() -> None:
    assert is_wal_file(SEG3) and is_wal_file(SEG3 + ".partial")
    assert is_wal_file("0000000A.history") and timeline_of("0000000A.history") == 10
    assert timeline_of("000000020000000000000003") == 2
    assert not is_wal_file("000000010000000000000002.00000028.backup")
    assert not is_wal_file("archive_status") and timeline_of("RECOVERYXLOG") is None
    # log 1, segment 2 of 16 MiB segments starts at 1/2000000
    assert segment_start("000000010000000100000002", 16 << 20) == 0x1_0200_0000


def test_segment_problem_tells_this_clusters_segment_from_everything_else(
    tmp_path: Path,
) -> None:
    assert segment_problem(put(tmp_path, SEG3, FULL), SEG3, SYSID) is None
    cases = {
        "zeroed": bytes(SEG_SIZE),
        "foreign": segment(SEG3, sysid=OTHER_SYSID),
        "recycled": segment(SEG3, page_address=segment_start("000000010000000000000001", SEG_SIZE)),
        "short": FULL[: SEG_SIZE // 2],
        "later_timeline": segment(SEG3, tli=2),
    }
    problems = {
        case: segment_problem(put(tmp_path / case, SEG3, content), SEG3, SYSID)
        for case, content in cases.items()
    }
    assert all(problems.values()), problems
    assert "another cluster" in str(problems["foreign"])
    assert "recycled" in str(problems["recycled"])
    # A new timeline's first segment starts with the old timeline's page: that is fine.
    new_tl = "000000020000000000000003"
    assert segment_problem(put(tmp_path, new_tl, segment(new_tl, tli=1)), new_tl, SYSID) is None


def test_system_identifier_comes_from_pg_control(tmp_path: Path) -> None:
    put(tmp_path / "global", "pg_control", struct.pack("<Q", SYSID) + bytes(8184))
    assert system_identifier(tmp_path) == SYSID
    assert system_identifier(tmp_path / "missing") is None


# --------------------------------------------------------------------------- copies


@pytest.mark.parametrize(
    ("other", "relation"),
    [
        (FULL, Relation.IDENTICAL),
        (STREAMED, Relation.SUPERSEDED),  # the drill's defect: a beginning, zero-padded
        (FULL[: SEG_SIZE // 3], Relation.SUPERSEDED),  # a copy cut short
        (segment(SEG3, b"before-backup|after-backup|up-to-the-crash|more"), Relation.COVERS),
        (segment(SEG3, b"before-backup|something else"), Relation.CONFLICT),
        (segment(SEG3, b"another cluster's WAL", sysid=OTHER_SYSID), Relation.SUPERSEDED),
    ],
    ids=["identical", "streamed_part", "cut_short", "holds_more", "diverged", "other_cluster"],
)
def test_copies_are_related_by_content(tmp_path: Path, other: bytes, relation: Relation) -> None:
    ours = put(tmp_path / "ours", SEG3, FULL)
    theirs = put(tmp_path / "theirs", SEG3, other)
    assert relate_copies(ours, theirs, name=SEG3, system_identifier=SYSID) is relation


def test_a_foreign_history_file_of_the_same_number_is_superseded(tmp_path: Path) -> None:
    ours = put(tmp_path / "ours", "00000002.history", b"1\t0/3000668\tno recovery target\n")
    theirs = put(tmp_path / "theirs", "00000002.history", b"1\t0/2004A20\tafter a test\n")
    relation = relate_copies(ours, theirs, name="00000002.history", system_identifier=SYSID)
    assert relation is Relation.SUPERSEDED


# --------------------------------------------------------------------------- timelines


def test_the_failed_clusters_timeline_is_its_newest_own_wal(tmp_path: Path) -> None:
    wal = tmp_path / "pg_wal"
    put(wal, "00000002.history", b"1\t0/3000668\tno recovery target specified\n")
    put(wal, "000000010000000000000003.partial", segment(SEG3))
    put(wal, "000000020000000000000003", segment("000000020000000000000003", tli=1))
    # Neither a recycled file nor another cluster's names a newer timeline.
    recycled = "000000050000000000000004"
    put(wal, recycled, segment(recycled, page_address=0))
    foreign = "000000070000000000000004"
    put(wal, foreign, segment(foreign, sysid=OTHER_SYSID))

    assert cluster_timeline(wal, SYSID) == 2
    assert cluster_timeline(tmp_path / "gone", SYSID) is None


def test_recovery_follows_the_failed_clusters_timeline_never_latest_when_known() -> None:
    assert choose_timeline(1) == "1"
    assert choose_timeline(3) == "3"
    assert choose_timeline(None) == "latest"  # no pg_wal left to say: the best there is

    settings = recovery_settings(
        Path("/a"), Path("/p"), datetime(2026, 11, 27, 18, 13, 9, tzinfo=UTC), timeline="2"
    )
    assert settings["recovery_target_timeline"] == "2"
    assert settings["recovery_target_time"] == "2026-11-27 18:13:09.000000+00"
    assert recovery_settings(Path("/a"), Path("/p"), None)["recovery_target_timeline"] == "latest"


# --------------------------------------------------------------------------- salvage


def salvage(tmp_path: Path) -> Salvage:
    target = tmp_path / "salvaged"
    target.mkdir(exist_ok=True)
    return salvage_wal(
        tmp_path / "failed",
        tmp_path / "archive",
        tmp_path / "base" / "pg_wal",
        target,
        system_identifier=SYSID,
    )


def test_salvage_takes_the_failed_copy_over_the_base_backups_streamed_part(
    tmp_path: Path,
) -> None:
    """The open defect: a name in the base backup's pg_wal is no reason to skip the segment."""
    put(tmp_path / "failed" / "pg_wal", SEG3, FULL)
    put(tmp_path / "base" / "pg_wal", SEG3, STREAMED)
    (tmp_path / "archive").mkdir()

    result = salvage(tmp_path)

    assert result.copied == (SEG3,) and result.replacing == () and result.notes == ()
    assert (tmp_path / "salvaged" / SEG3).read_bytes() == FULL
    assert result.timeline == 1


def test_salvage_compares_with_the_archive_by_content(tmp_path: Path) -> None:
    failed = tmp_path / "failed" / "pg_wal"
    archive = tmp_path / "archive"
    names = [f"0000000100000000000000{n:02X}" for n in range(1, 8)]
    full = {name: segment(name, f"all of {name}".encode()) for name in names}
    for name in names:
        put(failed, name, full[name])
    put(archive, names[0], full[names[0]])  # archived: nothing to do
    put(archive, names[1], full[names[1]][:1000])  # cut short: superseded
    put(archive, names[2], segment(names[2], sysid=OTHER_SYSID))  # a re-initialised cluster's
    put(archive, names[3], segment(names[3], b"diverged"))  # nobody can tell: kept, noted
    put(failed, names[4], segment(names[4], page_address=0))  # recycled: no WAL of its name
    put(failed, names[5], segment(names[5], sysid=OTHER_SYSID))  # not this cluster's
    more = segment(names[6], f"all of {names[6]}, and more".encode())
    put(tmp_path / "base" / "pg_wal", names[6], more)  # the base backup's pg_wal holds more
    put(failed, "00000001.history.tmp", b"not a WAL file")

    result = salvage(tmp_path)

    assert result.copied == (names[1], names[2]) and result.replacing == (names[1], names[2])
    assert len(result.notes) == 1 and names[3] in result.notes[0]
    assert sorted(p.name for p in (tmp_path / "salvaged").iterdir()) == [names[1], names[2]]


def test_salvage_of_an_unreadable_pg_wal_says_so(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    result = salvage(tmp_path)
    assert result.copied == () and result.timeline is None
    assert "could not be read" in result.notes[0]


# --------------------------------------------------------------------------- after the swap


def test_salvaged_wal_joins_the_archive_and_superseded_copies_are_kept(tmp_path: Path) -> None:
    salvaged, archive, aside = tmp_path / "salvaged", tmp_path / "archive", tmp_path / "aside"
    put(salvaged, "000000010000000000000004", b"new")
    put(salvaged, "000000010000000000000005", b"ours")
    put(archive, "000000010000000000000005", b"cut")
    put(salvaged, "000000010000000000000006", b"same")
    put(archive, "000000010000000000000006", b"same")
    put(salvaged, "000000010000000000000007", b"last, where the restore branched")
    put(archive, "000000010000000000000007.partial", b"last, where the restore branched")

    moved = merge_salvaged(
        salvaged, archive, replacing={"000000010000000000000005"}, superseded_dir=aside
    )

    assert moved == ["000000010000000000000004", "000000010000000000000005"]
    assert (archive / "000000010000000000000005").read_bytes() == b"ours"
    assert (aside / "000000010000000000000005").read_bytes() == b"cut"
    assert not (archive / "000000010000000000000007").exists()
    assert not salvaged.exists()


def test_restore_command_serves_the_salvaged_copy_first(tmp_path: Path) -> None:
    salvaged, archive = tmp_path / "salvaged", tmp_path / "archive"
    put(salvaged, SEG3, b"salvaged")
    put(archive, SEG3, b"archived")
    put(archive, "000000010000000000000002", b"archived only")
    command = restore_command(archive, salvaged)

    def run(name: str) -> tuple[int, bytes | None]:
        out = tmp_path / "RECOVERYXLOG"
        out.unlink(missing_ok=True)
        line = command.replace("%f", name).replace("%p", shlex.quote(str(out)))
        code = subprocess.run(["sh", "-c", line], capture_output=True, check=False).returncode
        return code, out.read_bytes() if out.exists() else None

    assert run(SEG3) == (0, b"salvaged")
    assert run("000000010000000000000002") == (0, b"archived only")
    assert run("000000010000000000000009")[0] != 0  # neither: the end of the WAL
