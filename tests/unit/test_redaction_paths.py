"""A planted secret in each output path this process writes: caught or redacted.

Paths checked here: log records (any logger, any handler), pytest's failure text, the raw
Allure results at the end of a session, the CLI's error line, and a DSN's password. The
integration test tests/integration/test_secrets_artifacts.py scans a whole run's artifacts.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drillbook.core.redaction import PLACEHOLDER, REDACTOR, redact_logging, register_dsn

PLANTED = "pl4nted-s3cret-value-7f3a"
PASSWORD = "dsn-pa55word-q9"


def test_log_records_are_redacted_whoever_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    REDACTOR.add(PLANTED)
    redact_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").warning("connect failed with token %s", PLANTED)
    assert PLANTED not in caplog.text and PLACEHOLDER in caplog.text


def test_a_dsn_and_its_password_alone_are_both_redacted() -> None:
    register_dsn(f"postgresql://drill:{PASSWORD}@db.internal:5432/eleanor")
    assert PASSWORD not in REDACTOR.redact(f'FATAL: password "{PASSWORD}" rejected')
    assert "db.internal" not in REDACTOR.redact(
        f"postgresql://drill:{PASSWORD}@db.internal:5432/eleanor"
    )


def test_failure_text_and_raw_allure_results_of_a_session(tmp_path: Path) -> None:
    tests = tmp_path / "test_planted.py"
    tests.write_text(
        textwrap.dedent(
            f"""
            from drillbook.core.redaction import register_secret

            def test_leaks():
                register_secret("{PLANTED}")
                secret = "{PLANTED}"
                assert secret == "something else", f"the value was {{secret}}"
            """
        )
    )
    results = tmp_path / "allure-results"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            f"--alluredir={results}",
            f"--junitxml={tmp_path / 'junit.xml'}",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 1, process.stdout[-3000:]
    assert PLANTED not in process.stdout + process.stderr, process.stdout[-3000:]
    assert PLACEHOLDER in process.stdout
    assert PLANTED not in (tmp_path / "junit.xml").read_text()
    written = [p for p in results.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-result.json") for p in written)
    for path in written:
        assert PLANTED not in path.read_text(errors="replace"), path
    result = next(p for p in written if p.name.endswith("-result.json"))
    assert json.loads(result.read_text())["status"] == "failed"
