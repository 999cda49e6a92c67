"""The `[ledger]` table: numbered writes through the target's own write path, read back after
recovery, which is how every drill measures data loss (RPO)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from drillbook.config.schema import (
    MISSING,
    Choice,
    Context,
    Duration,
    EnvVar,
    Integer,
    Kind,
    Number,
    PathText,
    Rule,
    String,
    TextList,
    build,
    choice,
    quoted,
    setting,
)
from drillbook.config.sections.platform import PlatformName

__all__ = [
    "LEDGER_RECORDS",
    "LEDGER_SOURCES",
    "LedgerRecords",
    "LedgerSettings",
    "LedgerSource",
    "LedgerSources",
    "parse",
]

LedgerSource = Literal["table", "jsonl", "http"]
LEDGER_SOURCES: Final[tuple[LedgerSource, ...]] = get_args(LedgerSource)
LedgerSources = LedgerSource | tuple[LedgerSource, ...]
"""One source as written (`source = "jsonl"`), or several (`source = ["jsonl", "http"]`)."""
LedgerRecords = Literal["evidence", "other"]
LEDGER_RECORDS: Final[tuple[LedgerRecords, ...]] = get_args(LedgerRecords)

_SQL_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_POSITIVE = Duration(positive="a duration longer than 0")
# The order values are checked in: with two mistakes in one table, this one is reported first.
_CHECK_ORDER: Final = (
    "write_path",
    "rate",
    "max_writes",
    "max_duration",
    "timeout",
    "records",
    "source",
    "table",
    "dsn_env",
    "jsonl_path",
    "ack_dir",
    "read_path",
    "configuration_files",
)


def _writer_off_when_empty(path: str) -> str | None:
    return path or None


@dataclass(frozen=True)
class _Sources(Kind):
    """One source name, or a non-empty list of distinct ones: a service that keeps its records
    in more than one place (a database and a journal) is read back from each, since a restore
    of one does not touch the other."""

    def parse(self, context: Context, key: str, value: object) -> LedgerSources:
        if isinstance(value, str):
            return choice(context, key, value, LEDGER_SOURCES)
        if not isinstance(value, list | tuple):
            context.fail(key, value, f"one of {quoted(LEDGER_SOURCES)}, or a list of them")
        if not value:
            context.fail(
                key,
                value,
                'at least one source, e.g. "table" or ["jsonl", "http"]',
                "an empty list would read nothing back, and measure no data loss",
            )
        chosen: list[LedgerSource] = []
        for index, item in enumerate(value):
            source = choice(context, f"{key}[{index}]", item, LEDGER_SOURCES)
            if source in chosen:
                context.fail(
                    f"{key}[{index}]",
                    item,
                    "each source once",
                    f"'{source}' is already ledger.source[{chosen.index(source)}]",
                )
            chosen.append(source)
        return tuple(chosen)

    def describe(self) -> str:
        return (
            "one of "
            + ", ".join(f'`"{source}"`' for source in LEDGER_SOURCES)
            + ", or a list of them"
        )


def sources_of(source: LedgerSources) -> tuple[LedgerSource, ...]:
    """The sources named, in the order written: one or several."""
    return (source,) if isinstance(source, str) else source


@dataclass(frozen=True)
class LedgerSettings:
    """The write ledger: numbered writes through the target's own write path, read back after.

    Without `write_path` there is no writer, and drills measure no data loss.
    """

    write_path: str | None = field(
        default=None,
        metadata=setting(
            String(
                (
                    Rule(
                        lambda path: not path or path.startswith("/"),
                        "a path starting with '/', e.g. '/deliberate', or '' for no writer",
                    ),
                ),
                what="path starting with /, or empty",
                transform=_writer_off_when_empty,
            ),
            'Path of the write endpoint (ELEANOR: "/deliberate", called with a JWT and a '
            "trace_id); not set or empty: no writer, and drills measure no data loss.",
        ),
    )
    rate_per_second: float = field(
        default=10.0,
        metadata=setting(
            Number(
                "writes per second above 0, e.g. 10",
                unit="writes/s",
                maximum=1000,
                over="at most 1000 writes per second",
            ),
            "Writes per second on a steady schedule; 1/rate is the resolution of the RPO figure.",
            key="rate",
        ),
    )
    max_writes: int = field(
        default=20_000,
        metadata=setting(Integer(minimum=1), "At most this many writes per drill."),
    )
    max_duration_seconds: float = field(
        default=1800.0,
        metadata=setting(
            _POSITIVE,
            "The writer stops after this long, whatever the drill is doing.",
            key="max_duration",
        ),
    )
    timeout_seconds: float = field(
        default=2.0,
        metadata=setting(
            _POSITIVE,
            "Per-write timeout; a write without an answer is not acknowledged.",
            key="timeout",
        ),
    )
    records: LedgerRecords = field(
        default="evidence",
        metadata=setting(
            Choice(LEDGER_RECORDS),
            'What the writes create: "evidence" (zero loss allowed) or "other" data (the RPO '
            "applies).",
        ),
    )
    source: LedgerSources = field(
        default="table",
        metadata=setting(
            _Sources(),
            'Where survivors are read back: a Postgres "table", a "jsonl" file, or "http"; or a '
            'list of them (e.g. ["jsonl", "http"]) when the service keeps its records in more '
            "than one place: every acknowledged write must then be in each, and a write missing "
            "from any one is lost (reported per source).",
        ),
    )
    table: str = field(
        default="evidence_records",
        metadata=setting(
            String(
                (Rule(_SQL_TABLE.fullmatch, "a table name such as 'evidence_records'"),),
                what="SQL table name",
            ),
            'Table of source "table" (column trace_id, ordered by id; hash chain verified when '
            "it has the reference schema's hash columns); also the table the restore test of "
            "the newest backup counts (and chain-verifies) in the restored database.",
        ),
    )
    dsn_env: str | None = field(
        default=None,
        metadata=setting(
            EnvVar(
                "the name of an environment variable (letters, digits, _), not the DSN",
                "a DSN may hold a password: export it and name the variable here",
                is_secret=True,
            ),
            "Environment variable holding the table's DSN; not set on the local stack, which "
            'knows it. Required with source "table" on platform "kubernetes".',
        ),
    )
    jsonl_path: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            'File of source "jsonl" (ELEANOR\'s evidence file or its hash-chained ledger); '
            'required with that source. On the embedded stack "{run_dir}" stands for its run '
            'directory (where [stack.app] can put it too: "{run_dir}/records.jsonl").',
        ),
    )
    read_path: str = field(
        default="/audit/trace/{trace_id}?source=database",
        metadata=setting(
            String(
                (
                    Rule(
                        lambda path: path.startswith("/") and "{trace_id}" in path,
                        "a path starting with '/' containing {trace_id}, "
                        "e.g. '/audit/trace/{trace_id}'",
                    ),
                ),
                what="path with {trace_id}",
            ),
            'Read-back path of source "http"; `{trace_id}` is replaced; 404 means not stored.',
        ),
    )
    configuration_files: tuple[str, ...] = field(
        default=(),
        metadata=setting(
            TextList(),
            "Configuration files the target declares, checksummed before and after (zero "
            "loss); relative paths are under the embedded stack's run directory.",
        ),
    )
    ack_dir: str | None = field(
        default=None,
        metadata=setting(
            PathText(),
            "Where the acknowledgement files go; not set: the stack's run directory (or "
            ".drillbook/).",
        ),
    )

    @property
    def sources(self) -> tuple[LedgerSource, ...]:
        """Every source read back, in the order configured (one when `source` is a word)."""
        return sources_of(self.source)


def parse(context: Context, table: dict[str, Any], platform: PlatformName) -> LedgerSettings:
    settings = build(context, "ledger", table, LedgerSettings, order=_CHECK_ORDER)
    if settings.write_path and "jsonl" in settings.sources and not settings.jsonl_path:
        context.fail(
            "ledger.jsonl_path",
            MISSING,
            f"the JSON-lines file to read back, because {_names(settings, 'jsonl')}",
            "e.g. the file at ELEANOR's EVIDENCE_PATH or ELEANOR_LEDGER_PATH",
        )
    if (
        settings.write_path
        and "table" in settings.sources
        and platform != "local"
        and not settings.dsn_env
    ):
        context.fail(
            "ledger.dsn_env",
            MISSING,
            f"the environment variable holding the DSN, because {_names(settings, 'table')} "
            f"and platform is '{platform}'",
            'or read back through the service with source = "http"',
        )
    return settings


def _names(settings: LedgerSettings, source: LedgerSource) -> str:
    """Why a source's own key is needed: 'ledger.source is "jsonl"' (or 'includes')."""
    verb = "is" if isinstance(settings.source, str) else "includes"
    return f'ledger.source {verb} "{source}"'
