"""The pytest plugin: options, ini keys, markers and fixtures of drillbook, in one place.

Registered through the `pytest11` entry point, so `pytest drills/monthly` needs nothing else.
Every option can also be set in the ini file (same name without the leading dashes, with
underscores); the command line wins over the ini file, which wins over the configuration file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from drillbook.assembly.target import open_target
from drillbook.config.loader import load_config
from drillbook.config.model import DrillbookConfig
from drillbook.config.secret_values import secret_values
from drillbook.core.record import DrillRecord, Outcome
from drillbook.core.redaction import REDACTOR, redact_logging
from drillbook.engine.interrupt import interrupt, raise_if_stop_requested, stop_requested
from drillbook.errors import ConfigError, DrillAborted, DrillError, DrillFailed, InvalidDrill
from drillbook.target import Target

MARKER = "drill"
_DRILL_KEY = pytest.StashKey["Any"]()
_CONFIG_KEY = pytest.StashKey[DrillbookConfig]()
_VERDICT_KEY = pytest.StashKey[tuple[Outcome, BaseException | None]]()
_RECORDS_KEY = pytest.StashKey[list[DrillRecord]]()
_RUN_FILE_KEY = pytest.StashKey[Path]()
_CALL_RECORD_KEY = pytest.StashKey[DrillRecord]()
_STARTED_KEY = pytest.StashKey[float]()
_RUN_RECORDS_KEY = pytest.StashKey["Any"]()
_RECORDS_SUMMARY_KEY = pytest.StashKey[list[str]]()
_DRY_RUN_KEY = pytest.StashKey["Any"]()
_SCAN_KEY = pytest.StashKey[list[str]]()


@dataclass(frozen=True)
class _Option:
    name: str
    help: str
    kind: str = "string"  # "string" or "bool"
    override: str | None = None
    """The dotted configuration key this option overrides."""


_OPTIONS = (
    _Option("drillbook-config", "drillbook configuration file (TOML); default: the embedded stack"),
    _Option(
        "drillbook-platform",
        "platform to drill: local, kubernetes or docker",
        override="platform",
    ),
    _Option(
        "drillbook-probe-interval",
        "probe interval, e.g. 250ms or 1s (error bar of every RTO)",
        override="probing.interval",
    ),
    _Option(
        "drillbook-healthy-streak",
        "consecutive healthy samples that count as recovered",
        override="probing.healthy_streak",
    ),
    _Option(
        "drillbook-run-dir",
        "run directory of the embedded stack (default: a new private temp dir)",
        override="stack.run_dir",
    ),
    _Option(
        "drillbook-reuse-stack",
        "keep the embedded stack running after the session and reuse it next time",
        kind="bool",
        override="stack.reuse",
    ),
    _Option(
        "drillbook-allow-production",
        "confirm that drills may run against a target whose environment is production",
        kind="bool",
        override="allow_production",
    ),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drillbook", "disaster-recovery drills")
    group.addoption(
        "--drillbook-no-progress",
        action="store_true",
        default=False,
        help="do not print each drill's phases as they happen (the summary stays)",
    )
    group.addoption(
        "--drillbook-dry-run",
        action="store_true",
        default=False,
        help="print what each drill would do (fault, target, runbook, undo, objectives) and "
        "change nothing: no stack started, no connection opened, no file written",
    )
    group.addoption(
        "--drillbook-runs-dir",
        default=None,
        help="where each run's JSON result goes (default: reports/runs under the rootdir)",
    )
    for option in _OPTIONS:
        dest = option.name.replace("-", "_")
        if option.kind == "bool":
            group.addoption(
                f"--{option.name}", action="store_true", default=None, dest=dest, help=option.help
            )
            parser.addini(dest, option.help, type="bool", default=False)
        else:
            group.addoption(f"--{option.name}", default=None, dest=dest, help=option.help)
            parser.addini(dest, option.help, default=None)


def _option_value(config: pytest.Config, option: _Option) -> Any:
    dest = option.name.replace("-", "_")
    value = config.getoption(dest)
    if value is None:
        value = config.getini(dest)
        if option.kind == "bool" and value is False:
            return None
        if value in ("", None):
            return None
    return value


def resolve_config(config: pytest.Config) -> DrillbookConfig:
    """The drillbook configuration of this session: CLI > ini > file > defaults."""
    if _CONFIG_KEY in config.stash:
        return config.stash[_CONFIG_KEY]
    overrides: dict[str, object] = {}
    path: str | None = None
    for option in _OPTIONS:
        value = _option_value(config, option)
        if value is None:
            continue
        if option.override is None:
            path = str(value)
        elif option.name == "drillbook-healthy-streak":
            try:
                overrides[option.override] = int(value)
            except ValueError:
                raise pytest.UsageError(
                    f"--{option.name}: found {value!r}, expected a whole number >= 1"
                ) from None
        else:
            overrides[option.override] = value
    if path is not None and not os.path.isabs(path):
        path = str(Path(config.rootpath, path)) if not Path(path).exists() else path
    try:
        resolved = load_config(path, overrides=overrides)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_CONFIG_KEY] = resolved
    # Before anything is printed (the report header, a failure, a log line): every secret the
    # configuration points at is known to the redactor.
    REDACTOR.add_all(secret_values(resolved))
    return resolved


def pytest_configure(config: pytest.Config) -> None:
    redact_logging()
    config.addinivalue_line(
        "markers",
        "sites(**settings): the two-site deployment a quarterly drill runs on "
        "(fixtures.sites): keys of the [sites] table (replication, offsite, ...) and "
        "dr_standby=False for a cold DR site.",
    )
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scenario, component, option='', cadence=None): a disaster-recovery "
        "drill of the plan's `scenario`; `component` (a role or name in the configuration) "
        "is what the drill is about: its tier there picks the RTO objective; `option` names "
        "the recovery option (Allure story).",
    )
    # Fail fast, with one message, on a bad configuration file or option: before collection,
    # not as an error of every drill.
    resolve_config(config)
    _install_sigterm_handler()
    config.stash[_RECORDS_KEY] = []
    config.stash[_STARTED_KEY] = time.time()


def _install_sigterm_handler() -> None:
    # SIGTERM (CI cancelling a job) becomes KeyboardInterrupt, which pytest turns into an
    # orderly stop that still runs fixture teardown: the undo stack and the stack shutdown.
    if sys.platform == "win32":
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        # Remembered first: code that swallows the exception (a finaliser, a broad except)
        # cannot lose the request; the drill's next wait and the session raise it again.
        interrupt(signum)

    # Outside the main thread (drillbook embedded in another program) there is nothing to install.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, handler)


def pytest_report_header(config: pytest.Config) -> str | None:
    try:
        resolved = resolve_config(config)
    except pytest.UsageError:
        return None
    target = resolved.target.base_url or (
        "pod-readiness view of the cluster"
        if resolved.platform == "kubernetes"
        else "embedded local stack"
    )
    return REDACTOR.redact(
        f"drillbook: platform={resolved.platform} target={resolved.target.name} ({target}) "
        f"config={resolved.source} probe-interval={resolved.probing.interval_seconds}s"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    result = yield
    # Undo and reporting happen inside the test's call phase, so that the figures and the
    # attachments belong to the drill's own result (not to a teardown), whatever the outcome.
    drill = item.stash.get(_DRILL_KEY, None)
    if drill is not None:
        drill.finish()
        # The drill's record, once: the report's figures are written from it (the terminal
        # summary and the run's JSON file read the same record, its verdict made final at
        # teardown, when pytest has judged expected failures).
        from drillbook.engine.record import record_of

        error = result.exception
        record = record_of(drill, nodeid=item.nodeid, outcome=_call_outcome(error), error=error)
        item.stash[_CALL_RECORD_KEY] = record
        drill.observers.notify("recorded", record)
        run_records = _run_records(item.config)
        if run_records is not None:
            from drillbook.records.session import attach_trend

            attach_trend(run_records, record)


def _call_outcome(error: BaseException | None) -> Outcome:
    if error is None:
        return "passed"
    if isinstance(error, DrillAborted):
        return "aborted"
    return "failed" if isinstance(error, AssertionError) else "error"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    _remember_verdict(item, call, report)
    # A drill's failure message already carries the evidence and the way out; the traceback
    # through the engine would only bury it.
    if call.excinfo is not None and isinstance(call.excinfo.value, DrillError):
        error = call.excinfo.value
        kind = "DRILL FAILED" if isinstance(error, DrillFailed) else "DRILL ERROR"
        report.longrepr = f"{kind} ({type(error).__name__}): {error}"
    # Whatever the failure text holds (an assertion's values, a traceback's locals), no
    # registered secret reaches the terminal, JUnit XML or a CI log.
    if report.longrepr is not None and len(REDACTOR):
        text = str(report.longrepr)
        redacted = REDACTOR.redact(text)
        if redacted != text:
            report.longrepr = redacted
    # The captured stdout, stderr and log of the test, shown with -r or on failure.
    if report.sections and len(REDACTOR):
        report.sections = [(title, REDACTOR.redact(body)) for title, body in report.sections]


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def drillbook_config(pytestconfig: pytest.Config) -> DrillbookConfig:
    """The resolved drillbook configuration of this session."""
    return resolve_config(pytestconfig)


@pytest.fixture(scope="session")
def drill_target(drillbook_config: DrillbookConfig) -> Iterator[Target]:
    """The target under drill: the embedded stack (started once per session) or a deployment."""
    failure: str | None = None
    try:
        target = open_target(drillbook_config)
    except DrillError as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        # Outside the except block, so the message stands alone (no chained traceback).
        pytest.fail(failure, pytrace=False)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def drill(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Drill for the test's `@pytest.mark.drill(...)`, probing from a healthy baseline."""
    from drillbook.assembly.drill import build_drill, validate_marker

    marker_kwargs = _marker_kwargs(request.node)
    failure: str | None = None
    try:
        # The marker is checked before the target is touched: a typo starts no stack.
        validate_marker(request.node.nodeid, marker_kwargs, resolve_config(request.config))
    except InvalidDrill as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    drill_target: Target = request.getfixturevalue("drill_target")
    drill = build_drill(drill_target, request.node, marker_kwargs)
    if not request.config.getoption("drillbook_no_progress"):
        write_line = _terminal_line_writer(request.config)
        if write_line is not None:
            from drillbook.reporting.terminal import TerminalProgress

            drill.observers.add(TerminalProgress(write_line))
    request.node.stash[_DRILL_KEY] = drill
    run_records = _run_records(request.config)
    if run_records is not None:
        run_records.drill_started(drill.identity.title)
    try:
        drill.begin()
        yield drill
    finally:
        drill.finish()


def _marker_kwargs(node: pytest.Item) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    # iter_markers yields the closest first (function, then class, then module): keep those.
    for marker in node.iter_markers(MARKER):
        for key, value in marker.kwargs.items():
            merged.setdefault(key, value)
        if marker.args and "scenario" not in merged:
            merged["scenario"] = marker.args[0]
    return merged


def _terminal_line_writer(config: pytest.Config) -> Any:
    """A function printing one line on the terminal, past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return None
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write_line(line: str) -> None:
        # Drills notify from the test's own thread, where capture can be suspended safely.
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    return write_line


def _remember_verdict(item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
    """Keep the verdict of a drill's test and, once it is torn down, record the drill."""
    drill = item.stash.get(_DRILL_KEY, None)
    if drill is None:
        return
    if report.when in ("setup", "call") and _VERDICT_KEY not in item.stash:
        error = call.excinfo.value if call.excinfo is not None else None
        verdict = _outcome(report, error)
        if verdict is not None:
            item.stash[_VERDICT_KEY] = (verdict, error)
    if report.when != "teardown":
        return
    from drillbook.engine.record import record_of

    verdict_name, error = item.stash.get(_VERDICT_KEY, ("error", None))
    call_record = item.stash.get(_CALL_RECORD_KEY, None)
    try:
        if call_record is not None:
            record = dataclasses.replace(call_record, outcome=verdict_name)
        else:  # the drill never reached its call (its baseline failed): recorded now
            record = record_of(drill, nodeid=item.nodeid, outcome=verdict_name, error=error)
    except Exception as exc:  # a broken record must not turn the drill's verdict
        sys.stderr.write(f"drillbook: no record for {item.nodeid}: {exc!r}\n")
        return
    item.config.stash.setdefault(_RECORDS_KEY, []).append(record)
    run_records = _run_records(item.config)
    if run_records is not None:
        # At the end of each drill, so a run killed later keeps what it recorded.
        run_records.drill_recorded(record)


def _outcome(report: Any, error: BaseException | None) -> Outcome | None:
    """The drill's verdict from one phase's report; None when that phase decides nothing."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.skipped:
        return "skipped"
    if report.failed:
        # A drill that ran and missed the plan is red ("failed"); a stop condition's abort is
        # neither; anything else is broken.
        if isinstance(error, DrillAborted):
            return "aborted"
        return "failed" if report.when == "call" and isinstance(error, AssertionError) else "error"
    return "passed" if report.when == "call" else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A dry run plans every collected drill from its code and the configuration, then runs
    none: every item is deselected, so no fixture (no stack, no connection) is ever set up."""
    if not config.getoption("drillbook_dry_run", default=False):
        return
    from drillbook.assembly.dry_run import plan_drill, target_state

    resolved = resolve_config(config)
    plans = []
    for item in items:
        marker = _marker_kwargs(item)
        function = getattr(item, "function", None)
        if marker and function is not None:
            plans.append(plan_drill(item.nodeid, function, marker, resolved))
    config.stash[_DRY_RUN_KEY] = (plans, target_state(resolved))
    config.hook.pytest_deselected(items=list(items))
    items[:] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    # A stop asked for during the previous drill and swallowed there: no further drill starts.
    raise_if_stop_requested()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        _finish_session(session)
    finally:
        if stop_requested() is not None and session.exitstatus == 0:
            # Asked to stop (CI cancelling the job): never a green run, whatever finished.
            session.exitstatus = pytest.ExitCode.INTERRUPTED


def _finish_session(session: pytest.Session) -> None:
    dry_run = session.config.stash.get(_DRY_RUN_KEY, None)
    if dry_run is not None:
        # Planned, not run: nothing to record. Red only when a drill would be refused.
        plans, _ = dry_run
        session.exitstatus = 1 if any(plan.refused for plan in plans) else 0
        return
    _write_run_file(session.config)
    _finish_run_records(session.config)
    _finish_allure_results(session)
    if _scan_run_outputs(session.config) and session.exitstatus == 0:
        session.exitstatus = 1


def _scan_run_outputs(config: pytest.Config) -> list[str]:
    """The end of every run with drills: everything it wrote (Allure results, the run file,
    the drill reports) searched for every secret it learned. A find fails the run, named by
    file and never by value: the redactor missed a path, and that is a bug to fix."""
    if not config.stash.get(_RECORDS_KEY, []):
        return []
    from drillbook.reporting.artifact_scan import scan_run_outputs

    started = config.stash.get(_STARTED_KEY, 0.0)
    paths: list[Path] = []
    results = config.getoption("allure_report_dir", default=None)
    if results:
        paths.append(Path(results))
    run_file = config.stash.get(_RUN_FILE_KEY, None)
    if run_file is not None:
        paths += [run_file, run_file.parent / "latest.json"]
    reports = _runs_dir(config).parent / "drill-reports"
    if reports.is_dir():
        paths += [p for p in reports.rglob("*") if p.is_file() and p.stat().st_mtime >= started]
    found = [
        f"SECRET FOUND: {finding}" for finding in scan_run_outputs(paths, REDACTOR.registered())
    ]
    config.stash[_SCAN_KEY] = found or [
        f"artifact scan: no secret in what this run wrote ({len(paths)} paths)"
    ]
    return found


def _runs_dir(config: pytest.Config) -> Path:
    option = config.getoption("drillbook_runs_dir", default=None)
    return Path(option) if option else Path(config.rootpath) / "reports" / "runs"


def _run_records(config: pytest.Config) -> Any:
    """The run's history, notifications and drill report (drillbook.records.session), made at
    the first drill, so a session without drills opens no store; None when unavailable."""
    if _RUN_RECORDS_KEY in config.stash:
        return config.stash[_RUN_RECORDS_KEY]
    from drillbook.records.session import RunRecords
    from drillbook.records.store import RunInfo

    try:
        resolved = resolve_config(config)
    except pytest.UsageError:
        config.stash[_RUN_RECORDS_KEY] = None
        return None
    started = config.stash.get(_STARTED_KEY, time.time())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    run = RunInfo(
        run_id=f"run-{stamp}-{os.getpid()}",
        started_wall=started,
        platform=resolved.platform,
        target=resolved.target.name,
    )
    config.stash[_RUN_RECORDS_KEY] = RunRecords(resolved, base=Path(config.rootpath), run=run)
    return config.stash[_RUN_RECORDS_KEY]


def _finish_run_records(config: pytest.Config) -> None:
    run_records = config.stash.get(_RUN_RECORDS_KEY, None)
    if run_records is None:
        return
    config.stash[_RECORDS_SUMMARY_KEY] = run_records.finish(
        config.stash.get(_RECORDS_KEY, []),
        reports_dir=_runs_dir(config).parent / "drill-reports",
        finished_wall=time.time(),
    )


def _write_run_file(config: pytest.Config) -> None:
    records = config.stash.get(_RECORDS_KEY, [])
    if not records:
        return
    from drillbook.reporting.run_file import run_document, write_run_file

    directory = _runs_dir(config)
    platform: str
    try:
        platform = resolve_config(config).platform
    except pytest.UsageError:
        platform = "unknown"
    document = run_document(
        records,
        started_wall=config.stash.get(_STARTED_KEY, time.time()),
        finished_wall=time.time(),
        platform=platform,
    )
    try:
        config.stash[_RUN_FILE_KEY] = write_run_file(directory, document)
    except OSError as exc:
        sys.stderr.write(
            f"drillbook: could not write the run's JSON result in {directory}: {exc}\n"
        )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One row per drill (verdict, RTO, detection, data loss, load), built from the records."""
    dry_run = config.stash.get(_DRY_RUN_KEY, None)
    if dry_run is not None:
        from drillbook.assembly.dry_run import format_plans

        terminalreporter.write_sep("=", "drillbook dry run")
        for line in format_plans(*dry_run):
            terminalreporter.write_line(line)
        return
    records = config.stash.get(_RECORDS_KEY, [])
    if not records:
        return
    from drillbook.reporting.terminal import format_summary

    terminalreporter.write_sep("=", "drillbook summary")
    for line in format_summary(records):
        terminalreporter.write_line(line)
    run_file = config.stash.get(_RUN_FILE_KEY, None)
    if run_file is not None:
        terminalreporter.write_line(f"drill records (JSON): {run_file}")
    for line in config.stash.get(_RECORDS_SUMMARY_KEY, []):
        terminalreporter.write_line(line)
    for line in config.stash.get(_SCAN_KEY, []):
        terminalreporter.write_line(line, red=line.startswith("SECRET"))


def _finish_allure_results(session: pytest.Session) -> None:
    """Give the Allure results their environment and failure categories."""
    results = session.config.getoption("allure_report_dir", default=None)
    if not results:
        return
    from drillbook.reporting.allure_files import (
        redact_results_dir,
        write_categories,
        write_environment_properties,
    )
    from drillbook.reporting.environment import environment_values

    results_dir = Path(results)
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        resolved = resolve_config(session.config)
    except pytest.UsageError:
        return
    write_environment_properties(results_dir, environment_values(resolved))
    write_categories(results_dir)
    # The raw results are what CI uploads: redacted here, while this process still knows
    # every secret the run registered (a later process's redactor starts empty).
    redact_results_dir(results_dir)
