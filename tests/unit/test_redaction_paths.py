"""A planted secret in each output path: caught or redacted.

Paths checked here: log records (any logger, any handler), pytest's failure text, the raw
Allure results at the end of a session, the CLI's error line, a DSN's password, and, for a
secret the configuration only names (an environment variable), the report header, the console,
a log file, JUnit XML and the raw results of a whole session.

The other paths and where they are checked:
- check-config's output: tests/unit/test_check_config_cli.py
- the run file, the drill reports and every other file a run with drills writes: the
  end-of-run scan of every such run (tests/integration/test_run_output_scan.py shows it
  failing a run on a planted secret)
- the HTML report, its attachments, the stack's logs, the undo journal:
  tests/integration/test_secrets_artifacts.py
- notifications (webhook bodies, emails): tests/integration/test_records_over_time.py
- what Locust's processes inherit: tests/unit/test_locust_environment.py; the bearer token
  only to workers that prove the key: tests/integration/test_load_during_drills.py
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drillbook.config.loader import _read_embedded
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


def test_a_secret_the_configuration_names_stays_out_of_every_path_of_a_session(
    tmp_path: Path,
) -> None:
    """The secret is never registered by hand: drillbook learns it from the configuration
    (the variable `[target.auth] secret_env` names), and it was also pasted as the target's
    name, which the report header prints."""
    secret = "configured-s3cret-b8e41d"
    config = tmp_path / "drill.toml"
    config.write_text(
        _read_embedded()
        .replace('name = "eleanor-reference"', f'name = "{secret}"', 1)
        .replace('secret_env = "ELEANOR_JWT_SECRET"', 'secret_env = "PLANTED_SECRET_ENV"', 1)
    )
    tests = tmp_path / "test_planted.py"
    tests.write_text(
        textwrap.dedent(
            """
            import logging, os

            def test_leaks():
                secret = os.environ["PLANTED_SECRET_ENV"]
                logging.getLogger("a.library").warning("token is %s", secret)
                print("stdout of the test:", secret)
                assert secret == "something else", f"the value was {secret}"
            """
        )
    )
    results = tmp_path / "allure-results"
    outputs = {
        "junit xml": tmp_path / "junit.xml",
        "log file": tmp_path / "session.log",
    }
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "--drillbook-config",
            str(config),
            f"--alluredir={results}",
            f"--junitxml={outputs['junit xml']}",
            f"--log-file={outputs['log file']}",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PLANTED_SECRET_ENV": secret},
    )
    assert process.returncode == 1, process.stdout[-3000:]
    checked = {
        "report header and console": process.stdout,
        "stderr": process.stderr,
        **{name: path.read_text(errors="replace") for name, path in outputs.items()},
    }
    checked |= {
        f"raw result {p.name}": p.read_text(errors="replace")
        for p in results.rglob("*")
        if p.is_file()
    }
    print("paths checked:", ", ".join(sorted(checked)))
    assert f"target={PLACEHOLDER}" in process.stdout, process.stdout[:2000]
    assert "token is" in checked["log file"]
    leaked = [name for name, text in checked.items() if secret in text]
    assert leaked == [], leaked
