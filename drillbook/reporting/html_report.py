"""The HTML report of a drill run, rendered by Allure Report 3 from an Allure results directory.

Allure Report 3 is the npm package `allure` (a Node.js CLI, not the Java Allure 2). Its version
is pinned in `scripts/allure-version.txt`, which `scripts/install-allure.sh` installs into
drillbook's cache and `find_allure_cli` looks up; keeping the number in one file means the
script and this module can never disagree about which CLI the report was tested with.

Rendering works on a redacted copy of the results, so a secret that slipped into a test's
output never reaches the HTML and the caller's results directory is left as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from drillbook.core.redaction import Redactor
from drillbook.errors import DrillError, MissingDependency
from drillbook.reporting.allure_files import copy_results_dir, read_categories

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
VERSION_FILE: Final = REPO_ROOT / "scripts" / "allure-version.txt"
INSTALL_HINT: Final = "install it with: bash scripts/install-allure.sh"
DEFAULT_TIMEOUT: Final = 180.0
"""Seconds `allure generate` may take; a few hundred results render in about a second."""

# The awesome report's page template loads Google Analytics (hard-wired on in 3.18). Drill
# reports are opened inside company networks and on offline machines: a third-party beacon
# on every view is unwanted there, and a hanging request on an offline host.
_ANALYTICS = re.compile(
    rb"\s*<script async src=\"https://www\.googletagmanager\.com/gtag/js[^\"]*\"></script>"
    rb"\s*<script>\s*window\.dataLayer[^<]*</script>"
)
_CATEGORY_KEYS = ("name", "messageRegex", "traceRegex", "matchedStatuses", "flaky")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

StepTreeExpansion = Literal["expanded", "collapsed", "expand_failed_only"]


class ReportError(DrillError):
    """The HTML report could not be rendered; the message carries the CLI's stderr tail."""


@dataclass(frozen=True)
class ReportedTest:
    """One test result as the rendered report knows it (from its `test-results.json`)."""

    id: str
    """The report's id of the result; the result's page is at route `#/<id>`."""
    name: str
    status: str
    duration_ms: int | None


def pinned_allure_version() -> str | None:
    """The Allure Report 3 version from `scripts/allure-version.txt`, None without that file.

    The file is missing when drillbook is installed as a package without its repository;
    `find_allure_cli` then accepts any version found in the cache.
    """
    try:
        version = VERSION_FILE.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not _VERSION_RE.match(version):
        raise ReportError(f"{VERSION_FILE} must hold a version like 3.18.0, found {version!r}")
    return version


def allure_cache_dir() -> Path:
    """Where install-allure.sh puts its installs: ${DRILLBOOK_CACHE:-~/.cache/drillbook}/npm."""
    base = os.environ.get("DRILLBOOK_CACHE") or str(Path.home() / ".cache" / "drillbook")
    return Path(base) / "npm"


def _cached_candidates() -> list[Path]:
    cache = allure_cache_dir()
    version = pinned_allure_version()
    if version is not None:
        return [cache / f"allure-{version}" / "node_modules" / ".bin" / "allure"]

    def key(directory: Path) -> tuple[int, ...]:
        found = re.findall(r"\d+", directory.name)
        return tuple(int(part) for part in found)

    installs = sorted(cache.glob("allure-*"), key=key, reverse=True)  # newest first
    return [d / "node_modules" / ".bin" / "allure" for d in installs]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _major_version(cli: Path) -> int | None:
    try:
        result = subprocess.run(
            [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.\d+", result.stdout)
    return int(match.group(1)) if match else None


def find_allure_cli() -> Path:
    """The Allure Report 3 CLI: env DRILLBOOK_ALLURE_BIN, then drillbook's cache, then PATH.

    An `allure` on PATH is used only when it reports major version 3: Allure 2 has the same
    name and a different command line. Raises MissingDependency saying where it looked.
    """
    override = os.environ.get("DRILLBOOK_ALLURE_BIN")
    if override:
        if _is_executable(Path(override)):
            return Path(override)
        raise MissingDependency(
            f"DRILLBOOK_ALLURE_BIN={override!r} is not an executable file; unset it, or "
            f"{INSTALL_HINT}"
        )
    looked: list[str] = []
    for candidate in _cached_candidates():
        looked.append(str(candidate))
        if _is_executable(candidate):
            _require_node(candidate)
            return candidate
    if not looked:
        looked.append(f"{allure_cache_dir()}/allure-*")
    on_path = shutil.which("allure")
    if on_path is None:
        looked.append("'allure' on PATH")
    else:
        major = _major_version(Path(on_path))
        if major == 3:
            return Path(on_path)
        looked.append(f"{on_path} (not Allure 3: reports major version {major})")
    raise MissingDependency(
        f"Allure Report 3 CLI not found (looked in {', '.join(looked)}); {INSTALL_HINT}"
    )


def _require_node(cli: Path) -> None:
    # The npm-installed CLI is a Node.js script started through `env node`: without node
    # it fails with a puzzling "No such file or directory" on a file that exists.
    if shutil.which("node") is None:
        raise MissingDependency(
            f"Allure Report 3 CLI found at {cli}, but 'node' is not on PATH; install "
            "Node.js 20 or newer (e.g. apt-get install nodejs)"
        )


def allure_config(
    *,
    name: str,
    output_dir: Path,
    single_file: bool,
    step_tree_expansion: StepTreeExpansion = "expanded",
    group_by: Sequence[str] | None = None,
    categories: Sequence[dict[str, Any]] | None = None,
    history_path: Path | None = None,
) -> dict[str, Any]:
    """The Allure Report 3 configuration `render_html_report` writes (JSON-compatible)."""
    options: dict[str, Any] = {
        "singleFile": single_file,
        # A drill report is read to see what happened in which order: show nested steps
        # (fault injection, runbook actions) without a click per level.
        "stepTreeExpansion": step_tree_expansion,
    }
    if group_by:
        options["groupBy"] = list(group_by)
    config: dict[str, Any] = {
        "name": name,
        "output": str(output_dir),
        "plugins": {"awesome": {"options": options}},
    }
    if history_path is not None:
        # Allure 3 keeps its history (the trend widgets, each test's history tab) in one
        # JSON-lines file it reads and appends to at every generate: kept between runs.
        config["historyPath"] = str(history_path)
    if categories:
        # Allure 3's "awesome" report takes categories from its config only (categories.json
        # in the results feeds Allure 2-style reports); the Allure 2 keys are accepted as is.
        config["categories"] = [
            {key: c[key] for key in _CATEGORY_KEYS if key in c} for c in categories
        ]
    return config


def render_html_report(
    results_dir: Path,
    output_dir: Path,
    *,
    single_file: bool = True,
    name: str = "drillbook drills",
    step_tree_expansion: StepTreeExpansion = "expanded",
    group_by: Sequence[str] | None = ("epic", "feature", "story"),
    timeout: float = DEFAULT_TIMEOUT,
    redactor: Redactor | None = None,
    strip_analytics: bool = True,
    history_path: Path | None = None,
) -> Path:
    """Render the Allure results in `results_dir` as HTML into `output_dir`; returns index.html.

    `single_file=True` makes one self-contained index.html (open it from disk or mail it);
    False makes the usual folder of data files, which needs an HTTP server to be viewed
    (from file:// the page stays empty: the browser refuses to fetch the data files).
    `group_by` names the labels of the tree on the landing page (None: by file); note that
    Allure 3 opens only tree groups containing a failed or broken test, so the names of
    passed drills show after a click, while `result_route` reaches any test directly.
    `output_dir` is replaced; it must be absent, empty or a previous report. Categories
    come from `results_dir/categories.json` when present. An empty results directory gives
    an empty report; a missing one raises ReportError, as does a failing or hanging CLI.
    `strip_analytics` removes the Google Analytics tag Allure puts into the page.
    `history_path` is Allure's own history file (JSON lines), read and extended by this render.
    """
    results = Path(results_dir).resolve()
    output = Path(output_dir).resolve()
    if not results.is_dir():
        raise ReportError(f"Allure results directory {results} does not exist")
    cli = find_allure_cli()  # before touching the output: a missing CLI must not cost a report
    _prepare_output(output)
    config = allure_config(
        name=name,
        output_dir=output,
        single_file=single_file,
        step_tree_expansion=step_tree_expansion,
        group_by=group_by,
        categories=read_categories(results),
        history_path=None if history_path is None else Path(history_path).resolve(),
    )
    with tempfile.TemporaryDirectory(prefix="drillbook-allure-") as tmp:
        work = Path(tmp)
        # The CLI treats result directories as glob patterns: a copy under a plain name
        # spares us escaping "[", "{" or "*" in the caller's path (and it is the redacted copy).
        copy = copy_results_dir(results, work / "allure-results", redactor=redactor)
        config_file = work / "allurerc.json"
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
        command = [
            str(cli),
            "generate",
            "--config",
            str(config_file),
            "--cwd",
            str(work),
            str(copy),
        ]
        env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
        started = time.monotonic()
        try:
            result = subprocess.run(
                command,
                cwd=work,  # the CLI may drop state files in its cwd: keep them in the temp dir
                env=env,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReportError(
                f"allure generate did not finish within {timeout:.0f} s; output tail:\n"
                f"{_tail(exc.stderr)}\n{_tail(exc.stdout)}"
            ) from exc
    elapsed = time.monotonic() - started
    index = output / "index.html"
    if result.returncode != 0 or not index.is_file():
        raise ReportError(
            f"allure generate failed after {elapsed:.1f} s (exit status {result.returncode}, "
            f"index.html {'present' if index.is_file() else 'missing'}); command: "
            f"{' '.join(command)}; stderr tail:\n{_tail(result.stderr)}\n"
            f"stdout tail:\n{_tail(result.stdout)}"
        )
    if strip_analytics:
        _strip_analytics(index)
    return index


def _strip_analytics(index: Path) -> None:
    # Bytes, not text: the page must come out byte for byte the same apart from the tag.
    html = index.read_bytes()
    # Searched after </head> only: the tag sits in the body, while the head holds the report
    # options, which must stay exactly as Allure wrote them.
    head, separator, body = html.rpartition(b"</head>")
    cleaned = _ANALYTICS.sub(b"", body, count=1)
    if cleaned != body:
        index.write_bytes(head + separator + cleaned)


def reported_tests(report_dir: Path) -> list[ReportedTest]:
    """The test results a rendered report contains, from its `test-results.json`."""
    path = Path(report_dir) / "test-results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{path} not found: is {report_dir} an Allure 3 report?") from exc
    by_id = data.get("byId", {}) if isinstance(data, dict) else {}
    return [
        ReportedTest(
            id=str(item.get("id", key)),
            name=str(item.get("name", "")),
            status=str(item.get("status", "unknown")),
            duration_ms=item.get("duration") if isinstance(item.get("duration"), int) else None,
        )
        for key, item in by_id.items()
        if isinstance(item, dict)
    ]


def find_result(report_dir: Path, name: str) -> ReportedTest:
    """The one result named `name` (its test name, e.g. "test_app_failure[primary]")."""
    matches = [t for t in reported_tests(report_dir) if t.name == name]
    if len(matches) != 1:
        names = sorted(t.name for t in reported_tests(report_dir))
        raise ReportError(
            f"expected exactly one test result named {name!r} in {report_dir}, found "
            f"{len(matches)}; the report has: {names}"
        )
    return matches[0]


def result_route(test_id: str) -> str:
    """The hash route of a test result's page in Allure 3's "awesome" report: ``#/<id>``.

    Append it to the report's index.html URL (file:// or http://); the page shows the
    result's overview with its steps, parameters, labels and attachments. A tab can be
    added (``#/<id>/attachments``, ``/history``, ``/retries``, ``/environments``).
    """
    # Named without a "test_" prefix so that importing it into a test module does not
    # make pytest collect it as a test.
    return f"#/{test_id}"


def result_url(index_url: str, test_id: str) -> str:
    """`index_url` (of index.html, or of the report folder ending in "/") plus the route."""
    base = index_url.split("#", 1)[0]
    if base.endswith("/"):
        base += "index.html"
    return base + result_route(test_id)


def _prepare_output(output: Path) -> None:
    if output.exists():
        if not output.is_dir():
            raise ReportError(f"report output {output} exists and is not a directory")
        entries = list(output.iterdir())
        # Refuse to wipe a folder that is not a report: a wrong argument must not cost
        # somebody their files.
        if entries and not (output / "index.html").is_file():
            raise ReportError(
                f"report output {output} is neither empty nor a previous report; "
                "choose another folder"
            )
        # Stale data files of a multi-file report would survive a single-file render.
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)


def _tail(text: str | bytes | None, lines: int = 30) -> str:
    if not text:
        return "(empty)"
    value = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    return "\n".join(value.strip().splitlines()[-lines:])
