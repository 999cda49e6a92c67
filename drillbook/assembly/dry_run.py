"""`--dry-run`: what each drill would do, resolved from the configuration and the drill's own
code, with nothing started, opened, locked or changed.

A drill is imperative Python, and running its body is what changes the target (a backup taken
inside a phase, a secret rotated by a fixture). So a dry run never runs it: it reads the test
function's source for its `drill.inject / recover / verify / assert_objectives` calls, names
each fault, runbook step and check from the function it calls (its docstring, its checklist
title, the undo its fault factory declares), and resolves the rest from the configuration:
the component and how the platform addresses it, the objectives of its tier, whether the
allow-list lets the drill touch it, and whether a run holds the target now. Nothing here opens a
connection or a file for writing; the test of the monthly suite compares processes, files and
secrets before and after.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drillbook.config.model import Component, DrillbookConfig
from drillbook.config.sections.allow import (
    refuse_unlisted_group,
    refuse_unlisted_service,
    refuse_unlisted_workload,
)
from drillbook.errors import ConfigError, InvalidDrill, NotAllowed
from drillbook.stack.run_dir import LOCK_NAME
from drillbook.target import REUSED_STACK_DIR

JOURNAL_NAME = "undo-journal.jsonl"


@dataclass(frozen=True)
class PlannedStep:
    """One thing the drill would do, in its code's order."""

    kind: str
    """"fault", "undo", "runbook", "verify", "phase", "observe", "judge"."""
    text: str
    source: str = ""
    """The call as written in the drill, for the reader who wants the exact arguments."""


@dataclass
class DrillPlan:
    nodeid: str
    title: str
    scenario: str
    option: str
    component: str
    target: str
    objectives: str
    steps: list[PlannedStep] = field(default_factory=list)
    refused: str | None = None
    """Why the drill would be refused before injection (allow-list, configuration), if so."""


def plan_drill(
    nodeid: str,
    function: Callable[..., Any],
    marker: Mapping[str, Any],
    config: DrillbookConfig,
) -> DrillPlan:
    """The plan of one drill: `function` is the test function, `marker` its merged drill
    marker keyword arguments."""
    doc = (function.__doc__ or "").strip().splitlines()
    plan = DrillPlan(
        nodeid=nodeid,
        title=doc[0] if doc else function.__name__,
        scenario=str(marker.get("scenario", "")),
        option=str(marker.get("option", "")),
        component=str(marker.get("component", "")),
        target="",
        objectives="",
    )
    try:
        component = config.component(plan.component)
        tier = config.tier_of(plan.component)
    except (ConfigError, InvalidDrill) as exc:
        plan.refused = f"{type(exc).__name__}: {exc}"
        return plan
    rto = config.objectives.rto_for(tier)
    plan.objectives = (
        f"RTO {_duration(rto)} ({tier} tier), RPO {_duration(config.objectives.rpo_seconds)}, "
        f"evidence records lost at most {config.objectives.evidence_loss_allowed}"
    )
    plan.target = describe_target(config, component)
    plan.refused = allow_list_refusal(config, component)
    plan.steps = planned_steps(function, rto_text=plan.objectives)
    return plan


def describe_target(config: DrillbookConfig, component: Component) -> str:
    if config.platform == "kubernetes":
        where = config.kubernetes.context or "(no context)"
        workload = component.workload or f"pods {component.selector}"
        return f"kube context {where}: {workload} in namespace {component.namespace}"
    if config.platform == "docker":
        return (
            f"Compose project {config.docker.project}: service {component.compose_service} "
            f"({component.role})"
        )
    group = component.supervisor_group or component.name
    stack = "the embedded stack"
    if config.stack.reuse or config.stack.run_dir:
        run_dir = Path(config.stack.run_dir) if config.stack.run_dir else REUSED_STACK_DIR
        stack += f" in {run_dir.resolve()}"
    else:
        stack += " (started for the run in a temporary directory)"
    return f"{stack}: supervisor group {group} ({component.role})"


def allow_list_refusal(config: DrillbookConfig, component: Component) -> str | None:
    try:
        if config.platform == "kubernetes":
            workload = component.workload or f"pods {component.selector}"
            refuse_unlisted_workload(config.allow, component.namespace or "", workload)
        elif config.platform == "docker":
            refuse_unlisted_service(
                config.allow, config.docker.project or "", component.compose_service or ""
            )
        else:
            refuse_unlisted_group(config.allow, component.supervisor_group or component.name)
    except NotAllowed as exc:
        return f"NotAllowed: {exc}"
    return None


def target_state(config: DrillbookConfig) -> list[str]:
    """What a real run would meet first on a reused embedded stack: a run holding it, undos a
    dead run left pending. Read only: the lock file's text, the journal's lines."""
    if config.platform != "local" or not (config.stack.reuse or config.stack.run_dir):
        return []
    run_dir = Path(config.stack.run_dir) if config.stack.run_dir else REUSED_STACK_DIR
    notes: list[str] = []
    holder = _read_json(run_dir / LOCK_NAME)
    if holder:
        notes.append(
            f"the lock file names pid {holder.get('pid')} on {holder.get('host')} (a real run "
            "is refused if that run is alive)"
        )
    pending = _pending_undos(run_dir / JOURNAL_NAME)
    if pending:
        notes.append(
            f"{len(pending)} undo(s) a dead run left pending would be replayed first: "
            + "; ".join(pending)
        )
    return notes


def planned_steps(function: Callable[..., Any], *, rto_text: str) -> list[PlannedStep]:
    """The drill's calls on `drill`, in source order, each named from what it calls."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return [PlannedStep("verify", "the drill's source is not available to plan from")]
    tree = ast.parse(source)
    names = dict(function.__globals__)
    steps: list[PlannedStep] = []
    for node in _in_order(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if _is_drill_call(call, "phase") and isinstance(call, ast.Call):
                    title = _literal(call.args[1]) if len(call.args) > 1 else ""
                    steps.append(PlannedStep("phase", title or ast.unparse(call)))
            continue
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        verb = node.func.attr
        if not _is_drill_call(node, verb):
            continue
        if verb == "inject":
            for argument in node.args:
                factory = _called(argument, names)
                steps.append(PlannedStep("fault", _summary(factory), ast.unparse(argument)))
                undo = getattr(factory, "undo_description", None)
                steps.append(
                    PlannedStep(
                        "undo",
                        str(undo) if undo else "as the fault journals it (before injecting)",
                    )
                )
        elif verb == "recover":
            for argument in node.args:
                factory = _called(argument, names)
                steps.append(PlannedStep("runbook", _summary(factory), ast.unparse(argument)))
        elif verb == "verify":
            for argument in node.args:
                steps += [PlannedStep("verify", title) for title in _check_titles(argument, names)]
        elif verb == "observe_no_outage":
            steps.append(PlannedStep("observe", "no outage while watched", ast.unparse(node)))
        elif verb == "wait_until_detected":
            steps.append(PlannedStep("observe", "the outage detected by the probes"))
        elif verb == "wait_until_recovered":
            steps.append(PlannedStep("observe", "recovery: the probes healthy again (RTO)"))
        elif verb == "assert_objectives":
            steps.append(PlannedStep("judge", rto_text))
    return steps


def format_plans(plans: Sequence[DrillPlan], state: Sequence[str]) -> list[str]:
    lines = [
        f"dry run: {len(plans)} drill(s) resolved; nothing was started, opened or changed",
    ]
    lines += [f"  target now: {note}" for note in state]
    for plan in plans:
        lines.append("")
        lines.append(f"{plan.scenario} / {plan.option or plan.title}  [{plan.nodeid}]")
        if plan.target:
            lines.append(f"  target:     {plan.target}")
        if plan.objectives:
            lines.append(f"  objectives: {plan.objectives}")
        for step in plan.steps:
            suffix = f"   `{step.source}`" if step.source else ""
            lines.append(f"  {step.kind + ':':<11} {step.text}{suffix}")
        if plan.refused:
            lines.append(f"  REFUSED before injection: {plan.refused}")
    return lines


# -- reading the drill's code ----------------------------------------------------------------
def _in_order(tree: ast.AST) -> list[ast.AST]:
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Call | ast.With)]
    return sorted(nodes, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))


def _is_drill_call(node: ast.AST, verb: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == verb
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "drill"
    )


def _called(node: ast.AST, names: Mapping[str, Any]) -> Any:
    """The function a fault or step expression calls (`kill_replicas(...)`,
    `take_up.await_take_up()`), when the drill's module names it; else None."""
    while isinstance(node, ast.Starred):
        node = node.value
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def _summary(function: Any) -> str:
    doc = inspect.getdoc(function) if function is not None else None
    if not doc:
        return "(described by its call)"
    return doc.split("\n\n")[0].replace("\n", " ")


def _check_titles(node: ast.AST, names: Mapping[str, Any]) -> list[str]:
    """The checklist titles of one `verify` argument: a check, a call making one, or a
    starred tuple of checks the drill's module defines."""
    if isinstance(node, ast.Starred) and isinstance(node.value, ast.Name):
        checks = names.get(node.value.id)
        if isinstance(checks, tuple | list):
            return [_title(check) or node.value.id for check in checks]
    check = names.get(node.id) if isinstance(node, ast.Name) else _called(node, names)
    return [_title(check) or ast.unparse(node)]


def _title(check: Any) -> str | None:
    title = getattr(check, "check_name", None)
    return str(title) if title else None


def _literal(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ast.unparse(node)[2:-1]
    return ""


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _pending_undos(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    pending: dict[str, str] = {}
    done: set[str] = set()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line: the real run cuts it off; the plan only reads
        if not isinstance(entry, dict):
            continue
        identity = str(entry.get("id"))
        if entry.get("state") == "pending":
            pending[identity] = str(entry.get("description", identity))
        elif entry.get("state") == "done":
            done.add(identity)
    return [text for identity, text in pending.items() if identity not in done]
