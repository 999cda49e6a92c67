"""The ledger writer: a drill companion that writes, remembers every acknowledgement, and judges.

From before the fault to the end of the drill it sends numbered writes through the target's own
write path at a steady rate (ELEANOR: `POST /deliberate` with a bearer token and the trace id
`drill-<run>-<seq>`), bounded in count and time. Every acknowledgement is kept in memory and in
an append-only file outside the blast radius. When the drill asserts its objectives the writer
reads back what survived (drillbook.ledger.sources), compares (drillbook.ledger.checker) and
reports each breach of the plan's data objectives as an "RPO breach". With several sources
(`[ledger] source = ["jsonl", "http"]`) each one is read back and must hold every
acknowledgement: a write missing from any of them is lost, and the report says from which.

Beside loss, the data check holds the store's integrity ("Data integrity breach"): no write
stored twice or other than acknowledged, a record read back whole (HTTP) showing what was
written (drillbook.ledger.readback), the hash chain intact, and the chain's head as it was
when the writer started (before the baseline, so before any fault) still in the chain after
recovery: a chain truncated or rewritten keeps every link but loses that head
(drillbook.ledger.heads).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from drillbook.config.durations import format_duration
from drillbook.config.model import LedgerSettings, LedgerSource, Objectives
from drillbook.core.clock import Clock, SystemClock
from drillbook.core.companions import Attachment
from drillbook.core.redaction import register_dsn
from drillbook.errors import ConfigError, InvalidDrill, VerificationFailed
from drillbook.ledger.acks import AckFile, Acknowledgement, FailedWrite
from drillbook.ledger.chain import ChainReport
from drillbook.ledger.checker import LedgerCheck, check_sources
from drillbook.ledger.heads import ChainHead
from drillbook.ledger.readback import ContentCheck, check_content, write_body
from drillbook.ledger.sources import (
    HttpSource,
    JsonlSource,
    ReadBackFailed,
    RecordSource,
    TableSource,
)
from drillbook.probes.auth import TokenProvider

if TYPE_CHECKING:
    from drillbook.engine.drill import Drill, DrillIdentity
    from drillbook.target import Target

DEFAULT_ACK_DIR = Path(".drillbook") / "ledger"
_FIRST_LOST_SHOWN = 20


def new_run_id() -> str:
    """A run id that sorts by time and never repeats: 20261127T154000-3f9a1c."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


class LedgerWriter:
    """Numbered writes at a steady rate, their acknowledgements, and the data-loss verdict."""

    name = "ledger"

    def __init__(
        self,
        settings: LedgerSettings,
        *,
        objectives: Objectives,
        base_url: str,
        source: RecordSource | Sequence[RecordSource],
        ack_dir: Path,
        tokens: TokenProvider | None = None,
        headers: Mapping[str, str] | None = None,
        run_id: str | None = None,
        clock: Clock | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        assert settings.write_path, "a LedgerWriter needs ledger.write_path"
        self.settings = settings
        self.objectives = objectives
        self.sources = _as_sources(source)
        descriptions = [each.description for each in self.sources]
        if not descriptions or len(set(descriptions)) < len(descriptions):
            raise ValueError(f"a LedgerWriter needs distinct read-back sources: {descriptions}")
        self.source = self.sources[0]
        """The first source (the only one, unless several are configured: see `sources`)."""
        self.source_description = "; ".join(descriptions)
        """Every source read back, e.g. "file /x/notes.jsonl; HTTP /notes/{trace_id}"."""
        self.run_id = run_id or new_run_id()
        self.ack_path = ack_dir / f"{self.run_id}.jsonl"
        self._url = base_url.rstrip("/") + settings.write_path
        self._tokens = tokens
        self._headers = dict(headers or {})
        self._clock = clock or SystemClock()
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acks: list[Acknowledgement] = []
        self._failures: list[FailedWrite] = []
        self._attempted: list[str] = []
        self._file: AckFile | None = None
        self.stopped_because: str | None = None
        self.last_check: LedgerCheck | None = None
        self.last_chain: ChainReport | None = None
        self.last_chains: dict[str, ChainReport | None] = {}
        """Each source's chain at the last read-back (None: that source has no chain)."""
        self.heads_before: dict[str, ChainHead | None] = {}
        """Each source's chain head when the writer started (None: no chain, or empty)."""
        self.heads_after: dict[str, ChainHead | None] = {}
        """Each source's chain head at the last read-back."""
        self.last_contents: dict[str, ContentCheck | None] = {}
        """Each source's records read back whole, held to what was sent (None: none were)."""
        self.check_error: str | None = None
        self.records_before: int | None = None
        self.records_after: int | None = None
        self.counts_before: dict[str, int | None] = {}
        self.counts_after: dict[str, int | None] = {}
        """Each source's record count (None: that source cannot say); `records_before` and
        `records_after` are those of the first source that can count."""

    @property
    def prefix(self) -> str:
        """Every trace id this writer sends starts with this."""
        return f"drill-{self.run_id}-"

    def trace_id(self, seq: int) -> str:
        return f"{self.prefix}{seq}"

    # -- companion -------------------------------------------------------------------------
    def start(self, drill: Drill | None = None) -> None:
        try:
            # Read the store once before anything is written: a source that cannot be read is
            # a configuration problem to report now, not a data loss to find after the fault.
            self.counts_before = {each.description: each.count() for each in self.sources}
            self.records_before = _first_count(self.counts_before)
            # The head before anything is written or injected: after recovery the chain must
            # still hold it (truncated or rewritten history loses it, links intact or not).
            self.heads_before = {each.description: each.head() for each in self.sources}
        except ReadBackFailed as exc:
            raise InvalidDrill(
                f"the write ledger cannot read back its store before the drill ({exc}); nothing "
                "was injected. Fix [ledger] source / table / dsn_env / jsonl_path, or remove "
                "ledger.write_path to drill without measuring data loss."
            ) from None
        self._file = AckFile(self.ack_path)
        self._thread = threading.Thread(target=self._run, name="drillbook-ledger", daemon=True)
        self._thread.start()

    def stop(self, drill: Drill | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout_seconds + 2.0)
        if self._file is not None:
            self._file.close()
        self._client.close()
        # A last read-back covering every acknowledgement, so each drill reports its figures
        # even if it never asserted its objectives (a failed drill most of all).
        self.check(drill.fault_at if drill is not None else None, final=True)

    def figures(self) -> Mapping[str, Any]:
        with self._lock:
            acknowledged, failed = len(self._acks), len(self._failures)
            attempted = len(self._attempted)
        figures: dict[str, Any] = {
            "run": self.run_id,
            "records": self.settings.records,
            "source": self.source_description,
            "write_path": self.settings.write_path,
            "rate_per_second": self.settings.rate_per_second,
            "attempted": attempted,
            "acknowledged": acknowledged,
            "failed_writes": failed,
            "writer_stopped": self.stopped_because,
            "ack_file": str(self.ack_path),
            "records_before": self.records_before,
            "records_after": self.records_after,
        }
        if self.last_check is not None:
            figures.update(self.last_check.figures())
            figures["first_lost"] = self.last_check.first_lost(_FIRST_LOST_SHOWN)
        if self.check_error is not None:
            figures["check_error"] = self.check_error
        figures["chain"] = self.last_chain.figures() if self.last_chain is not None else None
        figures["chain_heads"] = self._head_figures()
        contents = {name: c.figures() for name, c in self.last_contents.items() if c is not None}
        if contents:
            figures["read_back_content"] = contents
        if len(self.sources) > 1:
            figures["by_source"] = self._source_figures()
        return figures

    def _head_figures(self) -> dict[str, dict[str, Any]]:
        """Each chained source's head before the drill and at the last read-back."""
        return {
            name: {
                "before": before.figures() if before is not None else None,
                "after": after.figures() if (after := self.heads_after.get(name)) else None,
            }
            for name, before in self.heads_before.items()
            if before is not None or self.heads_after.get(name) is not None
        }

    def _source_figures(self) -> dict[str, dict[str, Any]]:
        """Each source's own verdict, record counts and chain, by its description."""
        checked = self.last_check.source_figures() if self.last_check is not None else {}
        by_source: dict[str, dict[str, Any]] = {}
        for description in (each.description for each in self.sources):
            chain = self.last_chains.get(description)
            by_source[description] = {
                **checked.get(description, {}),
                "records_before": self.counts_before.get(description),
                "records_after": self.counts_after.get(description),
                "chain": chain.figures() if chain is not None else None,
            }
        return by_source

    def attachments(self) -> list[Attachment]:
        figures = dict(self.figures())
        first_lost = figures.pop("first_lost", [])
        attachments = [
            Attachment("ledger summary", json.dumps(figures, indent=2), "application/json")
        ]
        if first_lost:
            attachments.append(
                Attachment(
                    "ledger first lost writes", json.dumps(first_lost, indent=2), "application/json"
                )
            )
        return attachments

    # -- the verdict -----------------------------------------------------------------------
    def snapshot(self) -> tuple[list[Acknowledgement], list[FailedWrite], list[str]]:
        with self._lock:
            return list(self._acks), list(self._failures), list(self._attempted)

    def check(self, fault_at: float | None, *, final: bool = False) -> LedgerCheck | None:
        """Read back now and compare with every acknowledgement received so far."""
        with self._lock:
            acks = list(self._acks)
            sent_before = list(self._attempted)
        try:
            with ExitStack() as held:
                # A source that can hold one reading of its store (a file still being appended
                # to) answers the read-back, the chain and the count from that one reading.
                for each in self.sources:
                    pinned = getattr(each, "pinned", None)
                    if callable(pinned):
                        held.enter_context(pinned())
                stored = {
                    each.description: each.read(self.prefix, sent_before) for each in self.sources
                }
                # Taken after the reads: whatever is stored was sent before it was stored, so
                # a write stored during a read is "sent, not yet acknowledged", never
                # "unexpected".
                with self._lock:
                    attempted = set(self._attempted)
                result = check_sources(
                    acks,
                    stored,
                    attempted=attempted,
                    fault_at=fault_at,
                    checked_at=self._clock.monotonic(),
                )
                chains = {
                    each.description: each.chain(self.heads_before.get(each.description))
                    for each in self.sources
                }
                heads = {
                    each.description: _head_now(each, chains[each.description])
                    for each in self.sources
                }
                counts = {each.description: each.count() for each in self.sources}
        except ReadBackFailed as exc:
            self.check_error = str(exc)
            if final:
                return None
            raise
        self.last_check, self.check_error = result, None
        self.last_chains, self.last_chain = chains, _verdict_chain(chains)
        self.heads_after = heads
        self.last_contents = {
            name: check_content(records, self.run_id, self.prefix)
            for name, records in stored.items()
        }
        self.counts_after, self.records_after = counts, _first_count(counts)
        return result

    def objective_breaches(self, drill: Drill) -> list[str]:
        """The plan's data objectives, judged on a read-back made now; one message per breach."""
        try:
            result = self.check(drill.fault_at)
        except ReadBackFailed as exc:
            raise VerificationFailed(
                f"data loss not measured: {exc}; the store must be readable after recovery"
            ) from None
        assert result is not None
        return breaches_of(
            result, records=self.settings.records, objectives=self.objectives
        ) + integrity_breaches(result, self.last_chains, self.last_contents)

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        interval = 1.0 / self.settings.rate_per_second
        started = time.monotonic()
        deadline = started + self.settings.max_duration_seconds
        due = started
        for seq in range(1, self.settings.max_writes + 1):
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                self.stopped_because = "drill finished"
                return
            if self._stop.is_set():
                self.stopped_because = "drill finished"
                return
            if time.monotonic() >= deadline:
                self.stopped_because = (
                    f"ledger.max_duration ({format_duration(self.settings.max_duration_seconds)})"
                )
                return
            self._write(seq)
            # A steady rate: after a slow write (a timeout during the outage) the schedule
            # moves on rather than firing the missed writes in a burst.
            due = max(due + interval, time.monotonic() - interval)
        self.stopped_because = f"ledger.max_writes ({self.settings.max_writes})"

    def _write(self, seq: int) -> None:
        trace_id = self.trace_id(seq)
        with self._lock:
            self._attempted.append(trace_id)
        body = write_body(self.run_id, seq, trace_id)
        headers = dict(self._headers)
        sent = self._clock.monotonic()
        try:
            if self._tokens is not None:
                headers.update(self._tokens.headers())
            response = self._client.post(self._url, json=body, headers=headers)
        except (httpx.HTTPError, ConfigError) as exc:
            self._fail(seq, trace_id, sent, f"{type(exc).__name__}: {exc}")
            return
        # Any 2xx is an acknowledgement: a service answering 201 Created (as REST services
        # do for a new record) has stored the write as surely as one answering 200.
        if not 200 <= response.status_code < 300:
            self._fail(seq, trace_id, sent, f"HTTP {response.status_code}")
            return
        ack_monotonic, ack_wall = self._clock.monotonic(), self._clock.wall()
        try:
            document = response.json()
        except ValueError:
            document = {}
        document = document if isinstance(document, dict) else {}
        digest, sequence = document.get("record_hash"), document.get("sequence")
        ack = Acknowledgement(
            seq=seq,
            trace_id=trace_id,
            sent_monotonic=sent,
            ack_monotonic=ack_monotonic,
            ack_wall=ack_wall,
            record_hash=digest if isinstance(digest, str) else None,
            store_sequence=sequence if isinstance(sequence, int) else None,
        )
        with self._lock:
            self._acks.append(ack)
        if self._file is not None:
            self._file.append(ack)

    def _fail(self, seq: int, trace_id: str, sent: float, error: str) -> None:
        failure = FailedWrite(seq, trace_id, sent, self._clock.monotonic(), error)
        with self._lock:
            self._failures.append(failure)
        if self._file is not None:
            self._file.append(failure)

    # -- read by other companions ----------------------------------------------------------
    def lost_writes(self) -> list[Acknowledgement]:
        """The acknowledged writes the last read-back did not find, oldest first (none before
        any read-back): each one's trace id and acknowledgement time, `ack_monotonic`, on
        CLOCK_MONOTONIC, the clock the drill takes its fault time on."""
        check = self.last_check
        return list(check.lost) if check is not None else []


def _as_sources(source: RecordSource | Sequence[RecordSource]) -> tuple[RecordSource, ...]:
    if isinstance(source, Sequence):
        return tuple(source)
    return (source,)


def _first_count(counts: Mapping[str, int | None]) -> int | None:
    """The record count of the first source (in configured order) that can count."""
    return next((count for count in counts.values() if count is not None), None)


def _head_now(source: RecordSource, chain: ChainReport | None) -> ChainHead | None:
    """The source's chain head now: from the head check when the chain had one, else asked."""
    if chain is not None and chain.head is not None:
        return chain.head.head_after
    return source.head() if chain is not None else None


def _verdict_chain(chains: Mapping[str, ChainReport | None]) -> ChainReport | None:
    """The chain a verdict rests on: a broken one if any source's is, else the first there."""
    present = [chain for chain in chains.values() if chain is not None]
    broken = [chain for chain in present if not chain.intact]
    return (broken or present)[0] if present else None


def breaches_of(result: LedgerCheck, *, records: str, objectives: Objectives) -> list[str]:
    """The plan's data objectives against one check: each breach says "RPO breach"."""
    breaches: list[str] = []
    lost = len(result.lost)
    # With several sources, which of them lost the writes (the one a restore did not reach
    # may still hold them all).
    losing = result.losing_sources
    where = f" from {' and '.join(losing)}" if result.by_source and losing else ""
    if records == "evidence" and lost > objectives.evidence_loss_allowed:
        breaches.append(
            f"RPO breach: {lost} acknowledged evidence record(s) lost{where}, "
            f"{objectives.evidence_loss_allowed} allowed (evidence is an immutable audit log: "
            f"the plan allows zero loss); {result.describe()}"
        )
    if result.rpo_seconds > objectives.rpo_seconds:
        breaches.append(
            f"RPO breach: writes acknowledged up to {result.rpo_seconds:.3f}s before the "
            f"{result.reference} were lost{where}, beyond the RPO objective of "
            f"{format_duration(objectives.rpo_seconds)} by "
            f"{result.rpo_seconds - objectives.rpo_seconds:.3f}s; {result.describe()}"
        )
    return breaches


def integrity_breaches(
    result: LedgerCheck,
    chains: Mapping[str, ChainReport | None],
    contents: Mapping[str, ContentCheck | None] | None = None,
) -> list[str]:
    """What the store holds that it should not: a write stored twice, a write stored other
    than acknowledged or read back other than written, a hash chain broken or without its
    head from before the fault. Each fails the data check as a loss does (the plan's evidence
    is an audit log: a duplicated or altered record is as bad as a lost one)."""
    breaches: list[str] = []
    if result.duplicated:
        breaches.append(
            f"Data integrity breach: {len(result.duplicated)} acknowledged write(s) stored more "
            f"than once (first: {', '.join(result.duplicated[:3])})"
        )
    if result.altered:
        breaches.append(
            f"Data integrity breach: {len(result.altered)} write(s) stored with other content "
            f"than was acknowledged (record_hash differs; first: {', '.join(result.altered[:3])})"
        )
    for source, content in (contents or {}).items():
        if content is not None and content.altered:
            breaches.append(f"Data integrity breach: {source}: {content.describe()}")
    for source, chain in chains.items():
        if chain is not None and not chain.intact:
            breaches.append(f"Data integrity breach: {source}: {chain.describe()}")
    return breaches


# --------------------------------------------------------------------------- construction


def record_sources(target: Target) -> tuple[RecordSource, ...]:
    """Every read-back source the configuration names, in its order, wired to the target."""
    return tuple(record_source(target, name) for name in target.config.ledger.sources)


def record_source(target: Target, name: LedgerSource | None = None) -> RecordSource:
    """The read-back source of that name (default: the first the configuration names), wired to
    the target."""
    settings = target.config.ledger
    name = name or settings.sources[0]
    if name == "table":
        if settings.dsn_env:
            dsn = os.environ.get(settings.dsn_env, "")
            if not dsn:
                raise ConfigError(
                    f"{target.config.source}: key 'ledger.dsn_env': the environment variable "
                    f"'{settings.dsn_env}' holding the DSN is not set; export it before the drill"
                )
            register_dsn(dsn)
        elif target.stack is not None:
            dsn = target.stack.database_dsn
        else:
            raise ConfigError(
                f"{target.config.source}: key 'ledger.dsn_env': found nothing, expected the "
                'environment variable holding the DSN of ledger.table (source = "table")'
            )
        return TableSource(dsn, settings.table)
    if name == "jsonl":
        assert settings.jsonl_path is not None  # the loader requires it
        return JsonlSource(jsonl_file(settings.jsonl_path, target))
    return HttpSource(
        target.base_url,
        settings.read_path,
        tokens=target.tokens,
        headers=target.config.probing.headers,
        timeout_seconds=max(settings.timeout_seconds, 5.0),
    )


def jsonl_file(configured: str, target: Target) -> Path:
    """The records file: "{run_dir}" is the embedded stack's run directory (the one the user's
    service gets as {run_dir} in [stack.app]), so both name the same file without a fixed path."""
    if "{run_dir}" not in configured:
        return Path(configured)
    if target.stack is None:
        raise ConfigError(
            f"{target.config.source}: key 'ledger.jsonl_path': found {configured!r}, but "
            "{run_dir} exists only on the embedded stack (platform local); give the file's path"
        )
    return Path(configured.replace("{run_dir}", str(target.stack.run_dir)))


def ack_directory(target: Target) -> Path:
    """Outside the blast radius: the stack's run directory (not its data), or .drillbook/."""
    settings = target.config.ledger
    if settings.ack_dir:
        return Path(settings.ack_dir)
    if target.stack is not None:
        return target.stack.run_dir / "ledger"
    return DEFAULT_ACK_DIR


def ledger_companion(target: Target, identity: DrillIdentity) -> LedgerWriter | None:
    """The companion factory: a writer when the configuration names a write path."""
    settings = target.config.ledger
    if not settings.write_path:
        return None
    return LedgerWriter(
        settings,
        objectives=target.config.objectives,
        base_url=target.base_url,
        source=record_sources(target),
        ack_dir=ack_directory(target),
        tokens=target.tokens,
        headers=target.config.probing.headers,
    )
