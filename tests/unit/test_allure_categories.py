"""The failure categories sort real allure-pytest results: an expected RPO breach lands in "RPO
breach" although Allure calls an xfailed test "skipped", and a genuine skip lands nowhere.

Results come from allure-pytest itself (a pytest run of a small module). The categories are
matched the way each Allure matches them: Allure 2 (Java: the whole message, DOTALL), Allure 3's
classic report (a search, flag "s") and Allure 3's awesome report, which drillbook renders (a
search, no flags), the last also through Allure 3's own matcher, run by node.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from drillbook.errors import MissingDependency
from drillbook.reporting.allure_files import DRILL_CATEGORIES
from drillbook.reporting.html_report import allure_config, find_allure_cli

Matcher = Callable[[str, str], bool]
"""(regex, message) -> whether a category's messageRegex matches the message."""

ENGINES: dict[str, Matcher] = {
    "allure 2": lambda regex, message: re.fullmatch(regex, message, re.DOTALL) is not None,
    "allure 3 classic": lambda regex, message: re.search(regex, message, re.DOTALL) is not None,
    "allure 3 awesome": lambda regex, message: re.search(regex, message) is not None,
}

DRILLS = """
import pytest

from drillbook.errors import DataLossDetected, VerificationFailed


@pytest.mark.xfail(
    raises=DataLossDetected, strict=True, reason="the daily dump cannot meet zero evidence loss"
)
def test_expected_breach():
    raise DataLossDetected("RPO breach: 13 acknowledged evidence record(s) lost, 0 allowed")


@pytest.mark.xfail(raises=DataLossDetected, strict=True)
def test_expected_breach_without_a_reason():
    raise DataLossDetected("RPO breach: 2 acknowledged evidence record(s) lost, 0 allowed")


def test_breach():
    raise DataLossDetected("RPO breach: 3 acknowledged evidence record(s) lost, 0 allowed")


def test_genuine_skip():
    pytest.skip("no database here to measure an RPO breach against")


@pytest.mark.xfail(reason="a known RPO breach on this platform")
def test_expected_failure_of_another_kind():
    raise VerificationFailed("verification failed: health checks pass: HTTP 503")
"""

EXPECTED = {
    "test_expected_breach": ("skipped", {"RPO breach"}),
    "test_expected_breach_without_a_reason": ("skipped", {"RPO breach"}),
    "test_breach": ("failed", {"RPO breach"}),
    "test_genuine_skip": ("skipped", set()),
    "test_expected_failure_of_another_kind": ("skipped", set()),
}


def categories_of(
    status: str,
    message: str | None,
    matches: Matcher,
    categories: Sequence[Mapping[str, Any]] = DRILL_CATEGORIES,
) -> set[str]:
    return {
        str(c["name"])
        for c in categories
        if status in c.get("matchedStatuses", [status])
        and (
            "messageRegex" not in c or (message is not None and matches(c["messageRegex"], message))
        )
    }


@pytest.fixture(scope="module")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str | None]]:
    """name -> (status, statusDetails.message) of real allure-pytest results of DRILLS."""
    directory = tmp_path_factory.mktemp("drills")
    (directory / "test_drills.py").write_text(DRILLS, encoding="utf-8")
    results = directory / "allure-results"
    # In a process of its own: allure-pytest's plugin manager is global to a process.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--alluredir={results}",
            str(directory / "test_drills.py"),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 failed, 1 skipped, 3 xfailed" in run.stdout, run.stdout + run.stderr
    found: dict[str, tuple[str, str | None]] = {}
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        details = result.get("statusDetails") or {}
        found[result["name"]] = (result["status"], details.get("message"))
    return found


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_real_results_land_in_their_categories(
    allure_results: dict[str, tuple[str, str | None]], engine: str
) -> None:
    assert set(allure_results) == set(EXPECTED)
    for name, (status, expected) in EXPECTED.items():
        got_status, message = allure_results[name]
        assert got_status == status, name
        assert categories_of(status, message, ENGINES[engine]) == expected, (name, message)


def test_the_expected_breach_is_reported_as_allure_pytest_writes_it(
    allure_results: dict[str, tuple[str, str | None]],
) -> None:
    # What the category relies on: "XFAIL <reason>", a blank line, then the exception.
    status, message = allure_results["test_expected_breach"]
    assert status == "skipped" and message is not None
    head, _, exception = message.partition("\n\n")
    assert head == "XFAIL the daily dump cannot meet zero evidence loss"
    assert exception.startswith("drillbook.errors.DataLossDetected: RPO breach: 13 acknowledged")
    assert allure_results["test_genuine_skip"][1] == (
        "Skipped: no database here to measure an RPO breach against"
    )


def test_allure_3_itself_sorts_them_so(allure_results: dict[str, tuple[str, str | None]]) -> None:
    # drillbook's report is Allure 3's awesome report, given the categories in its config
    # (html_report.allure_config): run Allure 3's own matcher over the real results.
    try:
        cli = find_allure_cli()
    except MissingDependency as exc:
        pytest.skip(f"Allure Report 3 is not installed (scripts/install-allure.sh): {exc}")
    matcher = cli.parent.parent / "@allurereport" / "core-api" / "dist" / "categories.js"
    assert matcher.is_file(), f"Allure 3's category matcher moved: {matcher}"
    config = allure_config(
        name="categories",
        output_dir=Path("unused"),
        single_file=True,
        categories=[dict(c) for c in DRILL_CATEGORIES],
    )
    source = json.dumps(matcher.as_uri())
    script = (
        f"import {{ normalizeCategoriesConfig, matchCategory }} from {source};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const { categories, results } = JSON.parse(readFileSync(0, 'utf8'));\n"
        "const rules = normalizeCategoriesConfig(categories);\n"
        "const out = {};\n"
        "for (const [name, [status, message]] of Object.entries(results)) {\n"
        "  const found = matchCategory(rules, { status, message: message ?? undefined });\n"
        "  out[name] = found ? found.name : null;\n"
        "}\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps({"categories": config["categories"], "results": allure_results}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verdicts = json.loads(run.stdout)
    assert verdicts == {
        name: (next(iter(names)) if names else None) for name, (_, names) in EXPECTED.items()
    }


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("failed", "drillbook.errors.DataLossDetected: RPO breach: 1 lost", {"RPO breach"}),
        (
            "failed",
            "drillbook.errors.ObjectiveBreached: RTO breach: 20s; RPO breach: 1 lost",
            {"RTO breach", "RPO breach"},
        ),
        (
            "skipped",
            "XFAIL reason\n\ndrillbook.errors.DataLossDetected: RPO breach: 1",
            {"RPO breach"},
        ),
        ("skipped", "XFAIL\n\nAssertionError: RPO breach: writes lost\nmore lines", {"RPO breach"}),
        # Genuine skips, whatever they mention, and xfails whose exception is not a breach.
        ("skipped", "Skipped: RPO breach drills need PostgreSQL", set()),
        ("skipped", "XFAIL an RPO breach here\n\nRuntimeError: stack down", set()),
        ("skipped", None, set()),
        ("passed", "XPASS an RPO breach expected", set()),
        ("broken", "RuntimeError: RPO breach checker crashed", {"Drill infrastructure error"}),
    ],
)
def test_categories_of_messages(
    engine: str, status: str, message: str | None, expected: set[str]
) -> None:
    assert categories_of(status, message, ENGINES[engine]) == expected
