"""The `drillbook` command: run a cadence of drills and render its report, manage the stack.

    drillbook run monthly            # pytest drills/monthly + Allure results + HTML report
    drillbook run quarterly          # the full DR test on two sites; reports/quarterly/html
    drillbook sites status|cleanup   # two-site deployments left behind (normally none)
    drillbook report                 # render reports/allure-results into reports/html
    drillbook check-config FILE      # validate a configuration and summarise the target
    drillbook stack up | down        # a reusable embedded stack (with --drillbook-reuse-stack)
    drillbook backup database        # pg_dump | gzip to S3, 30-day retention (--base: PITR)
    drillbook restore database       # --backup latest|NAME, --pitr latest|TIME
    drillbook backup weaviate        # Weaviate backup API -> export -> S3, 30-day retention
    drillbook restore weaviate       # --backup latest|NAME, through the backup API
    drillbook history [--json]       # every drill recorded: RTO, RPO, verdicts, by run
    drillbook status [--now TIME]    # each scenario against the schedule; exit 1 when overdue

Every error is one line naming what is wrong and how to fix it; exit code 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.config.secret_values import secret_values
from drillbook.core.redaction import REDACTOR, redact_logging
from drillbook.errors import DrillError

if TYPE_CHECKING:
    from drillbook.config.model import LedgerSettings

RESULTS_DIR = Path("reports") / "allure-results"
HTML_DIR = Path("reports") / "html"
CADENCES = ("monthly", "quarterly")
ALLURE_HISTORY = "allure-history.jsonl"
_NO_TESTS_COLLECTED = 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drillbook", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the drills of a cadence and render the report")
    run.add_argument("cadence", choices=CADENCES)
    run.add_argument("--config", help="drillbook configuration file (default: embedded stack)")
    run.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"Allure results dir (default: {RESULTS_DIR}, or reports/quarterly/allure-results)",
    )
    run.add_argument(
        "--html",
        type=Path,
        default=None,
        help=f"HTML report dir (default: {HTML_DIR}, or reports/quarterly/html)",
    )
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print each drill's fault, target, runbook, undo and objectives; change nothing",
    )
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="more pytest arguments after --")

    report = commands.add_parser("report", help="render Allure results as an HTML report")
    report.add_argument("--results", type=Path, default=RESULTS_DIR)
    report.add_argument("--html", type=Path, default=HTML_DIR)

    check = commands.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", nargs="?", help="the file (default: the embedded configuration)")

    stack = commands.add_parser("stack", help="start or stop a reusable embedded stack")
    stack.add_argument("action", choices=("up", "down", "status"))
    stack.add_argument("--run-dir", type=Path, default=None)

    halt = commands.add_parser(
        "halt", help="stop every running drill now: its fault undone, the run aborted"
    )
    halt.add_argument(
        "--run-dir",
        type=Path,
        action="append",
        default=[],
        help="the run directory of the stack to halt (default: every drill on this machine)",
    )
    halt.add_argument("--wait", type=float, default=120.0, help="seconds to wait for each run")
    halt.add_argument(
        "--config",
        type=Path,
        default=None,
        help="a Kubernetes target's configuration: halt the run holding that cluster, wherever "
        "it runs, then undo what the cluster's record holds pending",
    )

    undo = commands.add_parser(
        "undo",
        help="undo what a dead run left pending on a target (a reused stack or a cluster)",
    )
    undo.add_argument("--config", type=Path, default=None, help="the target's configuration")
    undo.add_argument(
        "--run-dir", type=Path, default=None, help="the embedded stack's run directory (reused)"
    )

    sites = commands.add_parser("sites", help="the two-site deployments of the quarterly test")
    sites.add_argument("action", choices=("status", "cleanup"))

    history = commands.add_parser("history", help="list the drills recorded over time")
    history.add_argument("--config", type=Path, default=None, help="configuration ([history])")
    history.add_argument("--json", action="store_true", help="the records as JSON")

    status = commands.add_parser(
        "status", help="each scenario against the schedule; exit status 1 when one is overdue"
    )
    status.add_argument("--config", type=Path, default=None, help="configuration ([schedule])")
    status.add_argument("--json", action="store_true", help="the status as JSON")
    status.add_argument(
        "--now", default=None, help="judge at this ISO 8601 time instead of now (e.g. 2026-03-08)"
    )

    from drillbook.backup.cli import add_backup_commands

    add_backup_commands(commands)  # backup database, restore database
    return parser


REPORT_NAMES = {
    "monthly": "drillbook: ELEANOR drills",
    "quarterly": "drillbook: ELEANOR quarterly full DR test",
}


def cadence_dirs(cadence: str) -> tuple[Path, Path]:
    """Where a cadence's Allure results and HTML report go by default: the quarterly test keeps
    its own, so a monthly run never overwrites the last quarterly report (nor the reverse)."""
    if cadence == "monthly":
        return RESULTS_DIR, HTML_DIR
    return Path("reports") / cadence / "allure-results", Path("reports") / cadence / "html"


def _render(results: Path, html: Path, name: str = REPORT_NAMES["monthly"]) -> Path:
    from drillbook.reporting.html_report import render_html_report

    # Allure's own history (trend widgets, each test's history) is kept beside the report.
    index = render_html_report(
        results, html, single_file=True, name=name, history_path=html.parent / ALLURE_HISTORY
    )
    print(f"drillbook: HTML report: {index}")
    return index


def _run(args: argparse.Namespace) -> int:
    import pytest

    drills = Path("drills") / args.cadence
    if not drills.is_dir():
        print(
            f"drillbook: error: {drills}/ not found; run from the repository root", file=sys.stderr
        )
        return 2
    default_results, default_html = cadence_dirs(args.cadence)
    args.results = args.results or default_results
    args.html = args.html or default_html
    extra = [a for a in args.pytest_args if a != "--"]
    if args.dry_run:
        # Nothing is written either: no Allure results, no report.
        pytest_args = [str(drills), "--drillbook-dry-run", *extra]
        if args.config:
            pytest_args.append(f"--drillbook-config={args.config}")
        return int(pytest.main(pytest_args))
    pytest_args = [str(drills), f"--alluredir={args.results}", "--clean-alluredir", *extra]
    if args.config:
        pytest_args.append(f"--drillbook-config={args.config}")
    code = int(pytest.main(pytest_args))
    if code == _NO_TESTS_COLLECTED:
        print(f"drillbook: no {args.cadence} drills were collected from {drills}/")
    if not args.no_report and args.results.exists():
        _render(args.results, args.html, REPORT_NAMES[args.cadence])
    return 0 if code == _NO_TESTS_COLLECTED else code


def _check_config(args: argparse.Namespace) -> int:
    from drillbook.config.loader import load_config

    config = load_config(args.file)
    # What this prints passes through the redactor, which knows every secret the file points
    # at: a value pasted where a name belongs, a URL that carries a token.
    REDACTOR.add_all(secret_values(config))
    target = config.target
    _say(f"{config.source}: valid")
    _say(
        f"  platform {config.platform}, target {target.name} ({target.environment}) at "
        f"{target.base_url or 'the embedded stack'}"
    )
    _say(
        f"  RTO critical {config.objectives.rto_critical_seconds:.0f}s, non-critical "
        f"{config.objectives.rto_non_critical_seconds:.0f}s, full "
        f"{config.objectives.rto_full_seconds:.0f}s; RPO {config.objectives.rpo_seconds:.0f}s"
    )
    _say(
        f"  probes: {', '.join(p.name + ' ' + p.path for p in target.probes)}; "
        f"every {config.probing.interval_seconds}s, {config.probing.healthy_streak} to recover"
    )
    for component in target.components.values():
        where = (
            component.namespace or component.compose_service or component.supervisor_group or "-"
        )
        _say(f"  component {component.name}: {component.role}, {component.tier}, {where}")
    _say(f"  {_describe_ledger(config.ledger)}")
    app = config.stack.app
    if config.platform == "local" and app.is_custom:
        _say(
            f"  own service ([stack.app]): {' '.join(app.command)}; ready at {app.ready_path}; "
            f"uses {', '.join(app.uses) or 'nothing'} (other drills: not applicable)"
        )
    return 0


def _say(text: str) -> None:
    print(REDACTOR.redact(text))


def _describe_ledger(ledger: LedgerSettings) -> str:
    """One line: whether (and how) drills measure data loss; a missing writer is worth a look."""
    if ledger.write_path is None:
        return "ledger: none ([ledger] write_path unset): drills measure no data loss"
    places = {
        "table": f"table {ledger.table}"
        + (f" (DSN from ${ledger.dsn_env})" if ledger.dsn_env else ""),
        "jsonl": f"file {ledger.jsonl_path}",
        "http": f"GET {ledger.read_path}",
    }
    where = " and ".join(places[source] for source in ledger.sources)
    return (
        f"ledger: {ledger.rate_per_second:g} writes/s to {ledger.write_path} "
        f"({ledger.records}), read back from {where}"
    )


def _stack(args: argparse.Namespace) -> int:
    from drillbook.config.loader import load_config
    from drillbook.stack.local_stack import attach, start_stack
    from drillbook.target import REUSED_STACK_DIR

    run_dir = (args.run_dir or REUSED_STACK_DIR).resolve()
    existing = attach(run_dir)
    if args.action == "status":
        print(
            f"embedded stack at {run_dir}: "
            + (f"running, {existing.base_url}" if existing else "not running")
        )
        return 0 if existing else 1
    if args.action == "down":
        if existing is None:
            print(f"no embedded stack running in {run_dir}")
            return 0
        existing.stop(remove_run_dir=True)
        print(f"stopped the embedded stack in {run_dir}")
        return 0
    if existing is not None:
        print(f"already running: {existing.base_url} ({run_dir})")
        return 0
    config = load_config(None, overrides={"stack.reuse": True, "stack.run_dir": str(run_dir)})
    stack = start_stack(config, run_dir=run_dir)
    print(
        f"embedded stack up: {stack.base_url} ({run_dir}); drill it with "
        f"pytest drills/monthly --drillbook-reuse-stack --drillbook-run-dir {run_dir}"
    )
    return 0


def _sites(args: argparse.Namespace) -> int:
    from drillbook.sites.cleanup import clean_up, leftover_processes, leftover_runs

    if args.action == "status":
        runs, pids = leftover_runs(), leftover_processes()
        print(
            f"two-site deployments present: {', '.join(runs) or 'none'}; "
            f"their processes: {len(pids)}"
        )
        return 1 if runs or pids else 0
    removed = clean_up()
    print(
        f"killed {len(removed['processes_killed'])} leftover process(es); removed the "
        f"network of {len(removed['networks_removed'])} deployment(s)"
        + (
            f"; left alone, in use by a running drill: {', '.join(map(str, removed['in_use']))}"
            if removed["in_use"]
            else ""
        )
    )
    return 0


def _halt(args: argparse.Namespace) -> int:
    from drillbook.assembly.halt import candidate_locks, halt

    if args.config is not None:
        return _halt_cluster(args)
    results = halt(candidate_locks(args.run_dir), wait_seconds=args.wait)
    if not results:
        print("no drill is running on this machine")
        return 0
    for result in results:
        state = (
            f"stopped, its faults undone, after {result.seconds:.1f} s"
            if result.released
            else f"still running after {result.seconds:.1f} s"
        )
        print(f"{result.holder.target} ({result.holder.description}): {state}")
    return 0 if all(r.released for r in results) else 1


def _halt_cluster(args: argparse.Namespace) -> int:
    from drillbook.assembly.halt import halt_cluster
    from drillbook.config.loader import load_config

    config = load_config(args.config)
    if config.platform != "kubernetes":
        print(
            "drillbook: error: halt --config names a Kubernetes target (platform "
            f'"kubernetes"); {args.config} is platform "{config.platform}": use --run-dir',
            file=sys.stderr,
        )
        return 2
    result = halt_cluster(config, wait_seconds=args.wait)
    if result.holder is None:
        print(f"no drill holds kube context '{result.context}'")
    elif result.released:
        print(f"{result.holder}: stopped, its faults undone, after {result.seconds:.1f} s")
    else:
        print(f"{result.holder}: still running after {result.seconds:.1f} s")
    for outcome in result.undone:
        failed = "" if outcome.ok else f": FAILED: {outcome.error}"
        print(REDACTOR.redact(f"undone: {outcome.action.description}{failed}"))
    return 0 if result.released and all(o.ok for o in result.undone) else 1


def _undo(args: argparse.Namespace) -> int:
    """Open the target as a drill run does (its lock, then the replay of every pending undo)
    and close it again: what a dead run left faulted is put back, nothing is injected."""
    from drillbook.assembly.target import open_target
    from drillbook.config.loader import load_config

    overrides: dict[str, object] = {}
    if args.run_dir is not None:
        overrides = {"stack.reuse": True, "stack.run_dir": str(args.run_dir.resolve())}
    config = load_config(args.config, overrides=overrides)
    if config.platform == "local" and not (config.stack.reuse and config.stack.run_dir):
        print(
            "drillbook: error: on the embedded stack, name the stack with --run-dir (a stack in "
            "a temporary directory dies with its run: its watchdog stops it)",
            file=sys.stderr,
        )
        return 2
    if config.platform == "local":
        from drillbook.stack.local_stack import attach

        assert config.stack.run_dir is not None
        if attach(Path(config.stack.run_dir)) is None:
            print(f"no embedded stack runs in {config.stack.run_dir}: nothing to undo")
            return 0
    target = open_target(config)
    try:
        replayed = target.replayed_undos
    finally:
        target.close()
    if not replayed:
        print("nothing was pending: the target is as the last run left it")
        return 0
    for outcome in replayed:
        print(f"undone: {outcome.action.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    redact_logging()
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            _render(args.results, args.html)
            return 0
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "sites":
            return _sites(args)
        if args.command == "halt":
            return _halt(args)
        if args.command == "undo":
            return _undo(args)
        if args.command in ("history", "status"):
            from drillbook.records.commands import run_records_command

            return run_records_command(args)
        if args.command in ("backup", "restore"):
            from drillbook.backup.cli import run_backup_command

            return run_backup_command(args)
        return _stack(args)
    except DrillError as exc:
        print(REDACTOR.redact(f"drillbook: error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drillbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
