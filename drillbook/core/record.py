"""The drill record: one immutable value per drill, what every report is built from.

A drill ends by producing a `DrillRecord`. The terminal summary, the run's JSON file and the
benchmark all read records, never a live drill, so they cannot disagree about a figure. Pure data:
this module imports nothing else from drillbook.

The JSON form carries `RECORD_SCHEMA_VERSION`; a reader refuses a version it does not know
rather than misreading a figure. Bump it when a field changes meaning or disappears (adding a
field is compatible and keeps the version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

RECORD_SCHEMA_VERSION = 1

Outcome = Literal["passed", "failed", "error", "aborted", "xfailed", "xpassed", "skipped"]
""""aborted": a stop condition stopped the drill and undid its fault (drillbook.engine.stop)."""
BreachKind = Literal["rto", "rpo"]


@dataclass(frozen=True)
class RtoFigure:
    """The recovery time measured at the service users see, judged against its objective."""

    seconds: float
    """Upper bound: the answer to the first sample of the lasting healthy run, minus the fault
    time."""
    error_bar_seconds: float
    """How much earlier the target may really have recovered: back to the sending of the last
    unhealthy sample (the probe interval plus `answer_seconds`, about)."""
    objective_seconds: float
    outage_observed: bool
    answer_seconds: float | None = None
    """How long the first sample of the lasting healthy run waited for its answer (None in
    records written before drillbook dated recoveries by their answer)."""

    @property
    def within_objective(self) -> bool:
        # The upper bound is what is judged: a green drill is a conservative statement.
        return self.seconds <= self.objective_seconds


@dataclass(frozen=True)
class RpoFigure:
    """Data loss measured by the write ledger: acknowledged writes read back after recovery."""

    acknowledged: int
    lost: int
    seconds: float
    """Age of the oldest lost acknowledged write at the reference time (0 when none lost)."""
    objective_seconds: float
    reference: str
    """What the RPO is measured from (e.g. "fault")."""

    @property
    def within_objective(self) -> bool:
        return self.seconds <= self.objective_seconds


@dataclass(frozen=True)
class LoadPhase:
    """The user load in one phase of the drill (baseline, fault, recovered)."""

    name: str
    requests: int
    errors: int

    @property
    def error_rate(self) -> float | None:
        return None if self.requests == 0 else self.errors / self.requests


@dataclass(frozen=True)
class LoadFigure:
    """The user load that ran during the drill (Locust): requests and errors, in all and by
    phase (what users saw during the fault is not what is judged after recovery)."""

    requests: int
    errors: int
    phases: tuple[LoadPhase, ...] = ()

    @property
    def error_rate(self) -> float | None:
        return None if self.requests == 0 else self.errors / self.requests

    def phase(self, name: str) -> LoadPhase | None:
        return next((p for p in self.phases if p.name == name), None)


@dataclass(frozen=True)
class Breach:
    """An objective the drill did not meet, with the message that says by how much."""

    kind: BreachKind
    message: str


@dataclass(frozen=True)
class FindingRecord:
    """A defect of the service the drill showed beside its verdict (drillbook.core.findings)."""

    kind: str
    component: str
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StopRecord:
    """A stop condition that aborted the drill (drillbook.engine.stop)."""

    reason: str
    fired_after_fault_seconds: float | None
    """From the fault to the stop; None when it fired before any fault was injected."""
    undone_seconds: float
    """From the stop to every fault undone (run by the stop watch itself)."""
    fired_wall: float = 0.0
    """Unix time the stop condition fired."""


@dataclass(frozen=True)
class CheckRecord:
    """One item of the plan's verification checklist and its result."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class DrillRecord:
    """Everything one drill measured and concluded."""

    nodeid: str
    title: str
    scenario: str
    option: str
    tier: str
    cadence: str
    outcome: Outcome
    failure: str | None
    """The first line of the failure message (a red or broken drill), else None."""
    failure_kind: str | None
    """The error's class name (ObjectiveBreached, RecoveryTimeout, ...), else None."""
    started_wall: float
    """Unix time the drill started."""
    wall_seconds: float
    """From the drill's start (baseline) to its end (undo done)."""
    rto: RtoFigure | None
    detection_seconds: float | None
    rpo: RpoFigure | None
    load: LoadFigure | None
    breaches: tuple[Breach, ...] = ()
    checks: tuple[CheckRecord, ...] = ()
    checks_not_run: tuple[tuple[str, str], ...] = ()
    phases: tuple[tuple[str, float], ...] = ()
    """Each phase's name and duration in seconds, in the order they ran."""
    verification_window_seconds: float = 0.0
    probe_interval_seconds: float = 0.0
    healthy_streak: int = 0
    """N: consecutive healthy samples that count as recovered."""
    outage_seconds: float | None = None
    """From the first unhealthy sample to recovery: the outage users saw."""
    flaps: int = 0
    """Returns to healthy that did not last, between detection and recovery."""
    relapses: int = 0
    """Those flaps that had looked recovered (N healthy samples) before failing again."""
    fault: str | None = None
    """What was injected, as the report shows it."""
    verdict: str | None = None
    """The objectives' judgement in words (RTO against its objective, then every breach)."""
    companions: Mapping[str, Any] = field(default_factory=dict)
    """Every companion's own figures (JSON values), by companion name."""
    findings: tuple[FindingRecord, ...] = ()
    """Defects of the service seen beside the verdict, each with its evidence."""
    stop: StopRecord | None = None
    """The stop condition that aborted the drill ("aborted"), else None."""

    def phase_seconds(self, name: str) -> float:
        """The duration of phase `name`, 0 when it did not run."""
        return sum(seconds for phase, seconds in self.phases if phase == name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_version"] = RECORD_SCHEMA_VERSION
        data["phases"] = [{"name": n, "seconds": s} for n, s in self.phases]
        data["checks_not_run"] = [{"name": n, "reason": r} for n, r in self.checks_not_run]
        data["companions"] = dict(self.companions)
        if self.rto is not None:
            data["rto"]["within_objective"] = self.rto.within_objective
        if self.rpo is not None:
            data["rpo"]["within_objective"] = self.rpo.within_objective
        if self.load is not None:
            data["load"]["error_rate"] = self.load.error_rate
            for phase, figure in zip(data["load"]["phases"], self.load.phases, strict=True):
                phase["error_rate"] = figure.error_rate
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrillRecord:
        version = data.get("schema_version")
        if version != RECORD_SCHEMA_VERSION:
            raise ValueError(
                f"drill record schema version {version!r}; this drillbook reads version "
                f"{RECORD_SCHEMA_VERSION}: read it with the drillbook that wrote it"
            )

        def figure(key: str, kind: Any) -> Any:
            raw = data.get(key)
            if raw is None:
                return None
            names = kind.__dataclass_fields__
            return kind(**{k: v for k, v in raw.items() if k in names})

        return cls(
            nodeid=data["nodeid"],
            title=data["title"],
            scenario=data["scenario"],
            option=data["option"],
            tier=data["tier"],
            cadence=data["cadence"],
            outcome=data["outcome"],
            failure=data["failure"],
            failure_kind=data["failure_kind"],
            started_wall=data["started_wall"],
            wall_seconds=data["wall_seconds"],
            rto=figure("rto", RtoFigure),
            detection_seconds=data["detection_seconds"],
            rpo=figure("rpo", RpoFigure),
            load=_load_from_json(data.get("load")),
            breaches=tuple(Breach(**b) for b in data.get("breaches", ())),
            checks=tuple(CheckRecord(**c) for c in data.get("checks", ())),
            checks_not_run=tuple((c["name"], c["reason"]) for c in data.get("checks_not_run", ())),
            phases=tuple((p["name"], p["seconds"]) for p in data.get("phases", ())),
            verification_window_seconds=data.get("verification_window_seconds", 0.0),
            probe_interval_seconds=data.get("probe_interval_seconds", 0.0),
            healthy_streak=data.get("healthy_streak", 0),
            outage_seconds=data.get("outage_seconds"),
            flaps=data.get("flaps", 0),
            relapses=data.get("relapses", 0),
            fault=data.get("fault"),
            verdict=data.get("verdict"),
            companions=data.get("companions", {}),
            findings=tuple(FindingRecord(**f) for f in data.get("findings", ())),
            stop=StopRecord(**data["stop"]) if data.get("stop") else None,
        )


def _load_from_json(raw: Mapping[str, Any] | None) -> LoadFigure | None:
    if raw is None:
        return None
    phases = tuple(
        LoadPhase(name=p["name"], requests=p["requests"], errors=p["errors"])
        for p in raw.get("phases", ())
    )
    return LoadFigure(requests=raw["requests"], errors=raw["errors"], phases=phases)


def breach_kind(message: str) -> BreachKind:
    """The objective a breach message names: judges phrase every message "RTO breach..." or
    "RPO breach..." (data objectives: RPO, evidence and configuration loss)."""
    return "rto" if message.startswith("RTO breach") else "rpo"


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `DrillRecord.to_json()`, derived from the dataclasses
    so that it cannot drift from them (docs/drill-record.schema.json is this, generated:
    `python -c "import json; from drillbook.core.record import record_json_schema as s;
    print(json.dumps(s(), indent=2))" > docs/drill-record.schema.json`)."""
    definitions: dict[str, Any] = {}

    def of(annotation: str) -> dict[str, Any]:
        text = annotation.replace(" ", "")
        if text.endswith("|None"):
            return {"anyOf": [of(text[: -len("|None")]), {"type": "null"}]}
        simple = {"str": "string", "float": "number", "int": "integer", "bool": "boolean"}
        if text in simple:
            return {"type": simple[text]}
        if text in ("Outcome", "BreachKind"):
            values = _OUTCOMES if text == "Outcome" else _BREACH_KINDS
            return {"type": "string", "enum": list(values)}
        if text.startswith("Mapping["):
            return {"type": "object"}
        if text.startswith("tuple[tuple[str,str]"):  # checks_not_run: name and reason
            return {"type": "array", "items": _pair("reason", {"type": "string"})}
        if text.startswith("tuple[tuple[str,float]"):  # phases: name and seconds
            return {"type": "array", "items": _pair("seconds", {"type": "number"})}
        if text.startswith("tuple["):
            return {"type": "array", "items": of(text[len("tuple[") : text.index(",")])}
        kind = _FIGURES[text]
        if text not in definitions:
            definitions[text] = {}  # placeholder: the recursion stops here
            definitions[text] = object_schema(kind)
        return {"$ref": f"#/$defs/{text}"}

    def object_schema(kind: Any) -> dict[str, Any]:
        fields = kind.__dataclass_fields__
        return {
            "type": "object",
            "properties": {name: of(str(f.type)) for name, f in fields.items()},
            "required": list(fields),
        }

    schema = object_schema(DrillRecord)
    schema["properties"]["schema_version"] = {"const": RECORD_SCHEMA_VERSION}
    schema["required"].append("schema_version")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "drillbook drill record",
        **schema,
        "$defs": definitions,
    }


def _pair(second: str, kind: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"type": "string"}, second: kind},
        "required": ["name", second],
    }


_OUTCOMES: tuple[str, ...] = get_args(Outcome)
_BREACH_KINDS: tuple[str, ...] = ("rto", "rpo")
_FIGURES: dict[str, Any] = {
    "RtoFigure": RtoFigure,
    "RpoFigure": RpoFigure,
    "LoadFigure": LoadFigure,
    "LoadPhase": LoadPhase,
    "Breach": Breach,
    "CheckRecord": CheckRecord,
    "FindingRecord": FindingRecord,
    "StopRecord": StopRecord,
}
