"""`[ledger] source` naming several sources: each is read back and held to every acknowledgement.

A service that keeps its records in two places (a database and a JSON-lines journal) can lose
them from one only: a restore of the database does not touch the journal. The configuration,
the check (with invented numbers) and the writer against two real JSON-lines files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from drillbook.cli import main
from drillbook.config import load_config
from drillbook.config.model import LedgerSettings, Objectives
from drillbook.errors import ConfigError
from drillbook.ledger.acks import Acknowledgement
from drillbook.ledger.checker import StoredRecord, check_ledger, check_sources
from drillbook.ledger.sources import JsonlSource
from drillbook.ledger.writer import LedgerWriter, breaches_of
from tests.unit.config_cases import KUBERNETES, PROBE

RUN = "drill-r1-"

# --------------------------------------------------------------------------- configuration


def load(tmp_path: Path, ledger: str, *, prefix: str = PROBE) -> LedgerSettings:
    path = tmp_path / "drill.toml"
    path.write_text(prefix + "[ledger]\n" + ledger, encoding="utf-8")
    return load_config(path).ledger


def test_a_list_of_sources_is_kept_in_order(tmp_path: Path) -> None:
    ledger = load(
        tmp_path,
        'write_path = "/notes"\nsource = ["jsonl", "http"]\njsonl_path = "/x/notes.jsonl"\n',
    )

    assert ledger.source == ("jsonl", "http")
    assert ledger.sources == ("jsonl", "http")


def test_one_source_as_a_word_is_unchanged(tmp_path: Path) -> None:
    ledger = load(tmp_path, 'source = "http"\n')

    assert ledger.source == "http"
    assert ledger.sources == ("http",)
    assert LedgerSettings().sources == ("table",)


BAD_SOURCES = [
    pytest.param('source = ["jsonl", "htp"]\n', "ledger.source[1]", "'htp'",
                 "one of 'table', 'jsonl', 'http'; did you mean 'http'?", id="unknown_in_list"),
    pytest.param('source = ["table", "table"]\n', "ledger.source[1]", "'table'",
                 "each source once; 'table' is already ledger.source[0]", id="duplicate"),
    pytest.param("source = []\n", "ledger.source", "[]", "at least one source",
                 id="empty_list"),
    pytest.param("source = 3\n", "ledger.source", "3",
                 "one of 'table', 'jsonl', 'http', or a list of them", id="not_a_word_or_list"),
    pytest.param('source = ["jsonl", 1]\n', "ledger.source[1]", "1",
                 "one of 'table', 'jsonl', 'http'", id="not_a_word_in_list"),
]  # fmt: skip


@pytest.mark.parametrize(("ledger", "key", "found", "expected"), BAD_SOURCES)
def test_a_bad_list_of_sources_is_one_clear_error(
    tmp_path: Path, ledger: str, key: str, found: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, ledger)

    assert str(info.value).startswith(
        f"{tmp_path / 'drill.toml'}: key '{key}': found {found}, expected {expected}"
    )


def test_each_source_in_the_list_still_needs_its_own_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, 'write_path = "/notes"\nsource = ["http", "jsonl"]\n')
    assert "key 'ledger.jsonl_path': found nothing" in str(info.value)
    assert 'because ledger.source includes "jsonl"' in str(info.value)

    with pytest.raises(ConfigError) as info:
        load(
            tmp_path,
            'write_path = "/notes"\nsource = ["http", "table"]\n',
            prefix=KUBERNETES + PROBE,
        )
    assert "key 'ledger.dsn_env': found nothing" in str(info.value)
    assert 'because ledger.source includes "table"' in str(info.value)


# ------------------------------------------------------------------------------- the check


def ack(seq: int, at: float) -> Acknowledgement:
    return Acknowledgement(seq, f"{RUN}{seq}", at - 0.01, at, 1.7e9 + at, f"h{seq}", seq)


def stored(*seqs: int, digest: str = "h") -> list[StoredRecord]:
    return [
        StoredRecord(f"{RUN}{seq}", position, f"{digest}{seq}") for position, seq in enumerate(seqs)
    ]


ACKS = [ack(seq, 10.0 + seq / 10) for seq in range(1, 6)]
SENT = {a.trace_id for a in ACKS}


def test_one_source_is_that_source_s_check_unchanged() -> None:
    alone = check_ledger(ACKS, stored(1, 2, 4, 5), attempted=SENT, fault_at=11.0, checked_at=20)
    through_many = check_sources(
        ACKS, {"table t": stored(1, 2, 4, 5)}, attempted=SENT, fault_at=11.0, checked_at=20
    )

    assert through_many == alone
    assert through_many.by_source == {}
    assert "by_source" not in through_many.figures()


def test_a_write_missing_from_one_source_is_lost_and_the_source_named() -> None:
    # The database restored from a dump lost 4 and 5; the journal kept everything.
    result = check_sources(
        ACKS,
        {"file /x/notes.jsonl": stored(1, 2, 3, 4, 5), "table notes": stored(1, 2, 3)},
        attempted=SENT,
        fault_at=11.0,
        checked_at=20,
    )

    assert [a.seq for a in result.lost] == [4, 5]
    assert result.found == 3 and not result.intact
    assert result.rpo_seconds == pytest.approx(11.0 - 10.4)
    assert list(result.losing_sources) == ["table notes"]
    figures = result.figures()
    assert figures["lost"] == 2
    assert figures["by_source"]["table notes"]["lost"] == 2
    assert figures["by_source"]["table notes"]["first_lost"] == [f"{RUN}4", f"{RUN}5"]
    assert figures["by_source"]["file /x/notes.jsonl"]["lost"] == 0
    assert "file /x/notes.jsonl: nothing lost; table notes: 2 lost (first drill-r1-4)" in (
        result.describe()
    )
    (breach,) = breaches_of(result, records="evidence", objectives=Objectives())
    assert breach.startswith(
        "RPO breach: 2 acknowledged evidence record(s) lost from table notes, 0 allowed"
    )


def test_losses_of_several_sources_add_up_and_each_is_named() -> None:
    result = check_sources(
        ACKS,
        {"file a": stored(2, 3, 4, 5), "table b": stored(1, 2, 3, 4)},
        attempted=SENT,
        fault_at=None,
        checked_at=20.0,
    )

    assert [a.seq for a in result.lost] == [1, 5]
    assert result.reference == "check" and result.rpo_seconds == pytest.approx(20.0 - 10.1)
    assert result.losing_sources == {"file a": (ACKS[0],), "table b": (ACKS[4],)}
    assert (
        "lost from file a and table b"
        in breaches_of(result, records="evidence", objectives=Objectives())[0]
    )


def test_duplicated_altered_and_unexpected_in_any_source_count() -> None:
    copies = [*stored(1, 2, 3, 4, 5), StoredRecord(f"{RUN}2", 9, "h2")]
    altered = stored(1, 2, 3, 4, 5)
    altered[2] = StoredRecord(f"{RUN}3", 2, "tampered")
    stray = [*stored(1, 2, 3, 4, 5), StoredRecord(f"{RUN}99", 5, None)]
    result = check_sources(
        ACKS,
        {"a": copies, "b": altered, "c": stray},
        attempted=SENT,
        fault_at=11.0,
        checked_at=20,
    )

    assert result.lost == ()
    assert result.duplicated == (f"{RUN}2",)
    assert result.altered == (f"{RUN}3",)
    assert result.unexpected == (f"{RUN}99",)
    assert "a: 1 duplicated; b: 1 altered; c: 1 unexpected" in result.describe()


def test_no_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one source"):
        check_sources(ACKS, {}, attempted=SENT, fault_at=None, checked_at=1.0)


# ------------------------------------------------------------------------------ the writer


def journaling_service(*journals: Path) -> httpx.MockTransport:
    """A write endpoint that journals each note to every file (201 Created)."""

    def handle(request: httpx.Request) -> httpx.Response:
        note = json.loads(request.content)
        for journal in journals:
            with journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"trace_id": note["trace_id"]}) + "\n")
        return httpx.Response(201, json={"trace_id": note["trace_id"]})

    return httpx.MockTransport(handle)


def test_the_writer_reads_back_every_source_and_says_which_lost_writes(tmp_path: Path) -> None:
    kept, restored = tmp_path / "journal.jsonl", tmp_path / "database.jsonl"
    writer = LedgerWriter(
        LedgerSettings(write_path="/notes", rate_per_second=200.0, max_writes=10),
        objectives=Objectives(),
        base_url="http://notes.invalid",
        source=[JsonlSource(kept), JsonlSource(restored)],
        ack_dir=tmp_path / "acks",
        client=httpx.Client(transport=journaling_service(kept, restored)),
    )
    writer.start()
    deadline = time.monotonic() + 5.0
    while writer.stopped_because is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # "Restore" the second store to its first 6 notes: the last 4 are gone from it only.
    lines = restored.read_text(encoding="utf-8").splitlines()
    restored.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    writer.stop()

    figures = writer.figures()
    assert figures["source"] == f"file {kept}; file {restored}"
    assert (figures["acknowledged"], figures["lost"]) == (10, 4)
    by_source = figures["by_source"]
    assert by_source[f"file {kept}"]["lost"] == 0
    assert by_source[f"file {restored}"]["lost"] == 4
    assert by_source[f"file {restored}"]["first_lost"][0] == f"{writer.prefix}7"
    # Each source's own count; the writer's count is the first source's.
    assert by_source[f"file {kept}"]["records_after"] == 10
    assert by_source[f"file {restored}"]["records_after"] == 6
    assert (figures["records_before"], figures["records_after"]) == (0, 10)
    assert writer.source_description == figures["source"]
    assert [s.description for s in writer.sources] == [f"file {kept}", f"file {restored}"]


def test_two_sources_with_one_description_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="distinct read-back sources"):
        LedgerWriter(
            LedgerSettings(write_path="/notes"),
            objectives=Objectives(),
            base_url="http://notes.invalid",
            source=[JsonlSource(tmp_path / "a"), JsonlSource(tmp_path / "a")],
            ack_dir=tmp_path / "acks",
        )


def test_check_config_names_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests/services/notes.toml"]) == 0

    assert (
        "ledger: 5 writes/s to /notes (evidence), read back from file {run_dir}/notes.jsonl and "
        "table notes"
    ) in capsys.readouterr().out
