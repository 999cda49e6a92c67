"""The artifact scan finds a planted secret in every spelling a report can carry, and only then."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

from drillbook.reporting.artifact_scan import scan_for_secrets

SECRET = 'jwt-"secret"/with+chars'


def _tree(root: Path) -> Path:
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "app-0.err.log").write_text("replica started\nsecrets provider=vault\n")
    (root / "result.json").write_text(json.dumps({"name": "drill", "steps": []}))
    return root


def test_clean_artifacts_have_no_finding(tmp_path: Path) -> None:
    assert scan_for_secrets([_tree(tmp_path)], {"jwt": SECRET}) == []


def test_a_planted_raw_secret_in_a_log_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with open(root / "logs" / "app-0.err.log", "a") as fh:
        fh.write(f"oops JWT_SECRET={SECRET}\n")
    [finding] = scan_for_secrets([root], {"jwt": SECRET})
    assert finding.path.name == "app-0.err.log" and finding.secret == "jwt"
    assert SECRET not in str(finding)  # a finding names the secret, never shows it


def test_json_escaped_and_url_encoded_secrets_are_found(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "timeline.json").write_text(json.dumps({"detail": SECRET}))
    (root / "url.txt").write_text(f"http://127.0.0.1/?token={quote(SECRET, safe='')}")
    found = {f.path.name for f in scan_for_secrets([root], {"jwt": SECRET})}
    assert found == {"timeline.json", "url.txt"}


def test_a_secret_inside_a_base64_data_uri_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    svg = base64.b64encode(f"<svg><text>{SECRET}</text></svg>".encode()).decode()
    (root / "description.html").write_text(f'<img src="data:image/svg+xml;base64,{svg}"/>')
    [finding] = scan_for_secrets([root], {"jwt": SECRET})
    assert finding.where == "base64 data URI"


def test_only_the_leaked_secret_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "x.log").write_text("api key: k3y-value-123")
    findings = scan_for_secrets([root], {"jwt": SECRET, "api": "k3y-value-123", "empty": ""})
    assert [f.secret for f in findings] == ["api"]
