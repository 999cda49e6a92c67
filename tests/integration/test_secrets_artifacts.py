"""Secret values never reach a secrets drill's artifacts.

Two Vault drills (the environment fallback, which puts the JWT secret into the replicas'
environment, and the leaked-secret rotation) run with --alluredir; then every artifact is scanned
for the stack's secrets: the Allure results and attachments (figures, timeline, samples, chart,
log tails), the stack's logs, the undo journal and the run's console output. The same scan, on
copies of those real artifacts with a secret planted in them, must find it, so a clean scan means
something. The results also carry what the report must show: provider, fault, recovery option,
RTO and the authentication checks.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.reporting.artifact_scan import artifact_files, scan_for_secrets
from tests.integration.processes import run_pytest

pytestmark = pytest.mark.integration

DRILLS = (
    "drills/monthly/test_secrets_failure.py::test_secret_deleted_recovered_by_env_fallback[vault]",
    "drills/monthly/test_secrets_failure.py::test_leaked_secret_rotated_lets_no_one_in[vault]",
)


@pytest.fixture(scope="module")
def drill_run() -> Iterator[tuple[Path, Path, str]]:
    # Under /tmp and traversable: the stack's PostgreSQL runs as another user.
    root = Path(tempfile.mkdtemp(prefix="drillbook-secrets-artifacts-"))
    root.chmod(0o711)
    try:
        yield _run_drills(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_drills(root: Path) -> tuple[Path, Path, str]:
    results, run_dir = root / "allure-results", root / "stack"
    run = run_pytest(
        *DRILLS,
        f"--alluredir={results}",
        f"--drillbook-run-dir={run_dir}",
        timeout=420,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
    (root / "console.log").write_text(run.stdout + run.stderr)
    return results, run_dir, run.stdout


def _stack_secrets(run_dir: Path) -> dict[str, str]:
    stored: dict[str, str] = json.loads((run_dir / "secrets.json").read_text())
    wanted = {name: stored[name] for name in ("jwt", "llm_api_key", "vault_root")}
    wanted["vault_app_token"] = (run_dir / "secrets" / "vault-app-token").read_text().strip()
    return wanted


def _artifacts(results: Path, run_dir: Path) -> list[Path]:
    return [
        results,
        run_dir / "logs",
        run_dir / "undo-journal.jsonl",
        results.parent / "console.log",
    ]


def test_no_secret_value_in_any_artifact(drill_run: tuple[Path, Path, str]) -> None:
    results, run_dir, _ = drill_run
    secrets = _stack_secrets(run_dir)
    assert all(len(value) >= 16 for value in secrets.values())
    scanned = list(artifact_files(_artifacts(results, run_dir)))
    assert len(scanned) > 20, scanned  # results, attachments, every program's logs
    assert any(p.name.startswith("openbao-0") for p in scanned)
    findings = scan_for_secrets(_artifacts(results, run_dir), secrets)
    assert findings == [], "\n".join(map(str, findings))
    # Where secrets do live on disk, only their owner can read them.
    for private in ("secrets.json", "supervisord.conf", "secrets/vault-app-token"):
        assert (run_dir / private).stat().st_mode & 0o077 == 0, private


def test_the_scan_catches_a_secret_planted_in_real_artifacts(
    drill_run: tuple[Path, Path, str], tmp_path: Path
) -> None:
    results, run_dir, _ = drill_run
    secrets = _stack_secrets(run_dir)
    copy = tmp_path / "copy"
    shutil.copytree(results, copy / "allure-results")
    shutil.copytree(run_dir / "logs", copy / "logs")
    assert scan_for_secrets([copy], secrets) == []
    result = next((copy / "allure-results").glob("*-result.json"))
    document = json.loads(result.read_text())
    document["description"] = f"leaked: {secrets['jwt']}"
    result.write_text(json.dumps(document))
    log = copy / "logs" / "app-0.err.log"
    log.write_text(log.read_text() + f"\nvault token {secrets['vault_app_token']}\n")
    found = {(f.path.name, f.secret) for f in scan_for_secrets([copy], secrets)}
    assert found == {(result.name, "jwt"), ("app-0.err.log", "vault_app_token")}


def test_report_shows_provider_fault_option_rto_and_auth_checks(
    drill_run: tuple[Path, Path, str],
) -> None:
    results, _, _ = drill_run
    drills = [
        json.loads(path.read_text())
        for path in results.glob("*-result.json")
        if "secrets-management-failure" in path.read_text()
    ]
    assert len(drills) == 2
    for drill in drills:
        assert drill["status"] == "passed"
        parameters = {p["name"]: p["value"] for p in drill["parameters"]}
        assert parameters["provider"] == "'vault'"
        assert "secret/eleanor/prod/jwt-secret in vault" in parameters["fault"]
        assert parameters["recovery option"].startswith("'Option ")
        assert parameters["RTO"].startswith("'") and " s (error bar -" in parameters["RTO"]
        figures = next(a for a in drill["attachments"] if a["name"] == "figures.json")
        record = json.loads((results / figures["source"]).read_text())
        checks = {check["name"]: check for check in record["checks"]}
        assert checks["authentication tested"]["passed"] is True
        assert checks["secret retrieval verified"]["passed"] is True
        assert checks["LLM API calls tested"]["passed"] is True
    leaked = next(d for d in drills if "Leaked" in d["name"])
    leaked_record = json.loads(
        (
            results
            / next(a for a in leaked["attachments"] if a["name"] == "figures.json")["source"]
        ).read_text()
    )
    leaked_checks = {check["name"]: check for check in leaked_record["checks"]}
    assert leaked_checks["revoked secret rejected one cache TTL after the revocation"]["passed"]
    assert leaked_checks["revoked secret rejected during recovery"]["passed"] is True
    assert (
        "token signed with revoked secret #1: HTTP 401"
        in (leaked_checks["authentication tested"]["detail"])
    )
