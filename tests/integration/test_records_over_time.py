"""Drill records over time, on one reused embedded stack:

- three consecutive monthly runs (one quick drill of each of two scenarios) give a trend chart
  with three points per scenario, looked at by headless Chromium (screenshot and SVG DOM), and
  `drillbook history` lists them; Allure's own history grows by one point per report;
- `drillbook status` is red when the clock passes a first Saturday without a passing drill,
  green after one;
- each run leaves the drill report in the plan's terms as Markdown and PDF (a page rendered to
  PNG is not blank);
- the same history in PostgreSQL (the stack's own server, a database of the test's);
- a drill red on its RTO sends the webhook and the email, with the figures, to a local HTTP
  receiver and a local SMTP server (aiosmtpd), and no secret; with both receivers down the
  drill still runs and the run reports that it could not notify.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from drillbook.config.loader import _read_embedded
from drillbook.reporting.artifact_scan import scan_for_secrets
from drillbook.reporting.browser import dump_dom, screenshot, serve_directory, visible_text
from drillbook.reporting.html_report import find_result, render_html_report, result_url
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

DRILLS = ("drills/monthly/test_application_failure.py", "drills/monthly/test_cache_failure.py")
SELECTION = "all_replicas or redis_lost"
SCENARIOS = ("application-failure", "cache-failure")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    # Under /tmp and traversable: the stack's PostgreSQL runs as another user.
    path = Path(tempfile.mkdtemp(prefix="drillbook-records-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "drillbook.cli",
                "stack",
                "down",
                "--run-dir",
                str(path / "stack"),
            ],
            cwd=REPO,
            env=ENV,
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(path, ignore_errors=True)


def _config(path: Path, extra: str, *, replace: tuple[str, str] | None = None) -> Path:
    text = _read_embedded()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def _drill_run(
    root: Path,
    name: str,
    config: Path,
    *args: str,
    modules: tuple[str, ...] = DRILLS,
    selection: str = SELECTION,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    runs = root / name / "runs"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *modules,
            "-k",
            selection,
            "--drillbook-config",
            str(config),
            "--drillbook-run-dir",
            str(root / "stack"),
            "--drillbook-reuse-stack",
            "--drillbook-runs-dir",
            str(runs),
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=REPO,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout[-6000:] + result.stderr[-2000:]
    run: dict[str, Any] = json.loads((runs / "latest.json").read_text())
    run.update(
        returncode=result.returncode,
        stdout=result.stdout,
        output=output,
        seconds=time.monotonic() - started,
        reports=root / name / "drill-reports",
    )
    return run


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drillbook.cli", *args],
        cwd=REPO,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- three monthly runs ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly(root: Path) -> dict[str, Any]:
    history = root / "history.sqlite3"
    config = _config(
        root / "monthly.toml",
        f'[history]\npath = "{history}"\n\n[schedule.scenarios]\n'
        + "".join(f'{s} = "monthly"\n' for s in SCENARIOS),
    )
    before = _cli("status", "--config", str(config))
    runs = []
    allure_history = root / "allure-history.jsonl"
    render_seconds = []
    for index in range(3):
        results = root / f"run{index}" / "allure-results"
        run = _drill_run(root, f"run{index}", config, f"--alluredir={results}")
        assert run["returncode"] == 0, run["output"]
        assert [d["outcome"] for d in run["drills"]] == ["passed", "passed"], run["output"]
        started = time.monotonic()
        run["html"] = render_html_report(
            results, root / f"run{index}" / "html", history_path=allure_history
        ).parent
        render_seconds.append(time.monotonic() - started)
        run["results"] = results
        runs.append(run)
    print(
        "\nthree runs: "
        + ", ".join(f"{r['seconds']:.1f} s" for r in runs)
        + "; reports rendered in "
        + ", ".join(f"{s:.1f} s" for s in render_seconds)
    )
    return {"config": config, "history": history, "runs": runs, "status_before": before}


def test_three_runs_give_a_trend_with_three_points_per_scenario(
    monthly: dict[str, Any], root: Path
) -> None:
    runs = monthly["runs"]
    last = runs[-1]
    for scenario in SCENARIOS:
        result = next(
            json.loads(p.read_text())
            for p in last["results"].glob("*-result.json")
            if scenario in p.read_text() and '"trend: ' in p.read_text()
        )
        (attachment,) = [a for a in result["attachments"] if a["name"] == f"trend: {scenario}"]
        assert attachment["type"] == "image/svg+xml"
        svg = last["results"] / attachment["source"]
        shot = REPO / "reports" / "screenshots" / f"records-trend-{scenario}.png"
        screenshot(svg.as_uri(), shot, width=900, height=620, wait_ms=500)
        png = shot.read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 15_000, len(png)
        dom = dump_dom(svg.as_uri(), wait_ms=500)
        points = [line for line in dom.split("<circle")[1:] if 'class="rto-point"' in line]
        assert len(points) == 3, dom[:2000]
        runs_seen = {p.split('data-run="')[1].split('"')[0] for p in points}
        assert len(runs_seen) == 3, runs_seen
        assert sum('class="rpo-point"' in c for c in dom.split("<circle")[1:]) == 3
        # The objective (15 min for the critical app, 1 h for the cache) is far above a few
        # seconds: it is named at the panel's edge.
        assert "objective 15m: above the scale" in dom or "objective 1h: above the scale" in dom
    # The trend reaches the HTML report: the drill's page lists the attachment.
    drill = find_result(
        last["html"], "Every application replica killed: recovered by the plan's rollout restart."
    )
    with serve_directory(last["html"]) as base:
        page = visible_text(dump_dom(result_url(base + "index.html", drill.id)))
    assert "trend: application-failure" in page, page[:3000]


def test_drillbook_history_lists_the_three_runs(monthly: dict[str, Any]) -> None:
    listed = _cli("history", "--config", str(monthly["config"]))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[-1] == "6 drill(s) in 3 run(s)", listed.stdout
    rows = [line for line in lines if line.startswith("run-")]
    assert len(rows) == 6
    assert sum("application-failure / all replicas lost, rollout restart" in r for r in rows) == 3
    assert all((" passed " in r and " / 15m" in r) or " / 1h" in r for r in rows), rows
    as_json = json.loads(_cli("history", "--json", "--config", str(monthly["config"])).stdout)
    assert [len(run["drills"]) for run in as_json["runs"]] == [2, 2, 2]
    recorded = {d["nodeid"] for run in as_json["runs"] for d in run["drills"]}
    assert recorded == {d["nodeid"] for d in monthly["runs"][0]["drills"]}


def test_status_is_red_past_a_first_saturday_without_a_passing_drill_green_after(
    monthly: dict[str, Any],
) -> None:
    config = str(monthly["config"])
    before = monthly["status_before"]
    assert before.returncode == 1 and "never passed" in before.stdout, before.stdout
    last_run = max(d["started_wall"] for r in monthly["runs"] for d in r["drills"])
    just_after = dt.datetime.fromtimestamp(last_run + 60, dt.UTC)
    green = _cli("status", "--config", config, "--now", just_after.isoformat())
    assert green.returncode == 0, green.stdout + green.stderr
    assert "every scenario is on schedule" in green.stdout
    # The Sunday after next month's first Saturday, with no drill in that month: red.
    first = (just_after.replace(day=1) + dt.timedelta(days=32)).replace(day=1).date()
    saturday = first + dt.timedelta(days=(5 - first.weekday()) % 7)
    sunday = dt.datetime.combine(saturday + dt.timedelta(days=1), dt.time(9), dt.UTC)
    red = _cli("status", "--config", config, "--now", sunday.isoformat(), "--json")
    assert red.returncode == 1, red.stdout + red.stderr
    statuses = json.loads(red.stdout)["scenarios"]
    assert [s["scenario"] for s in statuses if s["overdue"]] == list(SCENARIOS)
    assert {s["overdue_since"] for s in statuses} == {saturday.isoformat()}


def test_each_run_leaves_its_drill_report_as_markdown_and_pdf(
    monthly: dict[str, Any], tmp_path: Path
) -> None:
    for run in monthly["runs"]:
        (directory,) = run["reports"].iterdir()
        markdown = (directory / "drill-report.md").read_text()
        assert f"drill report: {directory / 'drill-report.md'} and " in run["stdout"]
        for heading in (
            "What was simulated",
            "Recovery procedure, step by step",
            "Data lost",
            "Verification checklist",
            "Findings",
            "Lessons learned / procedure updates",
        ):
            assert markdown.count(f"### {heading}") == 2, heading
        assert "The step that took most of the RTO:" in markdown
        assert "| recover | recovery runbook executed |" in markdown
        assert sorted(p.name for p in directory.glob("trend-*.svg")) == [
            f"trend-{s}.svg" for s in sorted(SCENARIOS)
        ]
    pdf = directory / "drill-report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    (page,) = tmp_path.glob("page*.pgm")
    data = page.read_bytes()
    magic, width, height, maximum, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and int(maximum) == 255
    assert len(pixels) == int(width) * int(height)
    dark = sum(1 for value in pixels if value < 128)
    # Text and table rules: some ink, a page that is not all white (nor all black).
    assert 0.005 < dark / len(pixels) < 0.5, dark / len(pixels)


def test_allure_keeps_its_history_between_runs(monthly: dict[str, Any], root: Path) -> None:
    points = (root / "allure-history.jsonl").read_text().splitlines()
    assert len(points) == 3
    drills = [json.loads(point)["testResults"] for point in points]
    assert all(len(results) == 2 for results in drills), [len(r) for r in drills]
    # The same two drills, run after run: one history id each.
    assert drills[0].keys() == drills[1].keys() == drills[2].keys()


def test_the_history_in_postgresql(monthly: dict[str, Any], root: Path) -> None:
    from drillbook.core.record import DrillRecord
    from drillbook.records.store import PostgresHistory, SqliteHistory, as_stored
    from drillbook.stack.local_stack import attach

    stack = attach(root / "stack")
    assert stack is not None
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS drillbook_history_test")
        conn.execute("CREATE DATABASE drillbook_history_test")
    url = stack.admin_dsn.rsplit("/", 1)[0] + "/drillbook_history_test"
    stored = SqliteHistory(monthly["history"]).drills()
    store = PostgresHistory(url, location="test")
    for drill in stored:
        store.append(drill.run, DrillRecord.from_json(drill.record))
    again = store.drills()
    store.close()
    assert [(d.run, d.nodeid, d.rto_seconds, d.record) for d in again] == [
        (d.run, d.nodeid, d.rto_seconds, d.record) for d in stored
    ]
    assert (
        as_stored(stored[0].run, DrillRecord.from_json(stored[0].record)).record == stored[0].record
    )
    config = _config(root / "pg.toml", '[history]\nurl_env = "DRILLBOOK_TEST_HISTORY_URL"\n')
    listed = _cli("history", "--config", str(config), env={"DRILLBOOK_TEST_HISTORY_URL": url})
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1] == "6 drill(s) in 3 run(s)"


# -- notifications --------------------------------------------------------------------------


class Webhook:
    """A Slack-style incoming webhook on loopback: records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    return port


TOKEN = "T0DRILL/B0HOOK/xoxb-notify-token-4711"


def _red_drill(root: Path, name: str, config: Path, webhook_port: int) -> dict[str, Any]:
    """Weaviate killed and restarted: its runbook waits up to the plan's 5 minutes whatever the
    objective, so with the objective at 100 ms the drill runs to its end, red on its RTO."""
    # Slack's webhook URL carries its token in the path: a secret drillbook must not repeat.
    hook = {"DRILLBOOK_TEST_WEBHOOK": f"http://127.0.0.1:{webhook_port}/services/{TOKEN}"}
    return _drill_run(
        root,
        name,
        config,
        modules=("drills/monthly/test_vector_db_failure.py",),
        selection="weaviate_killed",
        env=hook,
    )


def _notify_config(root: Path, name: str, smtp_port: int) -> Path:
    return _config(
        root / f"{name}.toml",
        f'[history]\npath = "{root / "notify-history.sqlite3"}"\nreport = "markdown"\n\n'
        '[notify]\ntimeout = "3s"\n\n'
        '[notify.webhooks.oncall]\nurl_env = "DRILLBOOK_TEST_WEBHOOK"\n\n'
        f'[notify.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n\n'
        '[[notify.ladder]]\nafter = "0s"\nwebhooks = ["oncall"]\nemail = ["oncall@example.com"]\n\n'
        '[[notify.ladder]]\nafter = "10m"\nemail = ["lead@example.com"]\n',
        # Impossibly low for the vector store (non-critical): the drill is red on its RTO.
        replace=('rto_non_critical = "1h"', 'rto_non_critical = "100ms"'),
    )


def test_a_red_drill_is_notified_by_webhook_and_email_without_secrets(
    monthly: dict[str, Any], root: Path, tmp_path: Path
) -> None:
    webhook, mailbox = Webhook(), Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        config = _notify_config(root, "notify", smtp.port)
        run = _red_drill(root, "notify", config, webhook.port)
    finally:
        smtp.stop()
        webhook.close()
    (drill,) = run["drills"]
    assert drill["outcome"] == "failed" and run["returncode"] == 1, run["output"]
    rto = drill["rto"]["seconds"]
    texts = [body["text"] for body in webhook.bodies]
    assert [t.split(" (")[0] for t in texts] == [
        "Drill started",
        "Drill FAILED",
        "Drill run finished",
    ]
    failed = texts[1]
    assert f"RTO {rto:.2f} s" in failed and "BREACH of the objective 100ms" in failed
    assert "acknowledged writes lost" in failed
    subjects = [m["Subject"] for m in mailbox.messages]
    assert len(subjects) == 3 and all(m["To"] == "oncall@example.com" for m in mailbox.messages)
    mail = next(
        m for m in mailbox.messages if "FAILED" in m["Subject"] and "run" not in m["Subject"]
    )
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes) and f"RTO {rto:.2f} s" in payload.decode()
    assert "notifications: 6 delivered, 0 failed" in run["stdout"], run["output"]
    # No secret of the stack's, nor the webhook's own token, in anything sent.
    sent = tmp_path / "sent"
    sent.mkdir()
    for index, body in enumerate(webhook.bodies):
        (sent / f"webhook-{index}.json").write_text(json.dumps(body))
    for index, message in enumerate(mailbox.messages):
        (sent / f"mail-{index}.eml").write_bytes(message.as_bytes())
    stored = json.loads((root / "stack" / "secrets.json").read_text())
    secrets = {name: value for name, value in stored.items() if isinstance(value, str)}
    secrets["webhook token"] = TOKEN
    assert len(secrets) >= 3
    assert scan_for_secrets([sent], secrets) == []
    (sent / "planted.txt").write_text(f"leak {stored['jwt']}")
    assert [f.secret for f in scan_for_secrets([sent], secrets)] == ["jwt"]
    assert TOKEN not in run["stdout"]


def test_with_the_receivers_down_the_drill_still_runs_and_the_run_says_so(
    monthly: dict[str, Any], root: Path
) -> None:
    dead_webhook, dead_smtp = _free_port(), _free_port()
    config = _notify_config(root, "notify-down", dead_smtp)
    run = _red_drill(root, "notify-down", config, dead_webhook)
    (drill,) = run["drills"]
    # The verdict is the drill's own (red on its RTO), not the receivers'.
    assert drill["outcome"] == "failed" and drill["failure_kind"] == "ObjectiveBreached", drill
    assert drill["rto"] is not None and drill["checks"], drill
    assert "notifications: 0 delivered, 6 failed" in run["stdout"], run["output"]
    assert "notification (drill-failed) to webhook oncall failed: ConnectError" in run["stdout"]
    assert "notification (drill-failed) to email oncall@example.com failed:" in run["stdout"]
    assert TOKEN not in run["stdout"]
