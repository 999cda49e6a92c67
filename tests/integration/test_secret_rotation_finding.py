"""A scheduled rotation of the JWT secret, with a service that needs a restart to take it up and
with one that does not.

The secrets drill "Scheduled rotation: taken up without a restart" rotates the JWT secret in
the provider (and the clients' tokens with it), then polls the service's authenticated critical
endpoint with a token signed by the new secret and one by the old until the new is accepted and
the old refused, for at most `[secrets] rotation_window`.

- The notes service with one defect (tests/services/secret_notes.py: it reads its JWT secret
  from Vault once, at start-up) never takes it up: the secret-needs-restart finding, with its
  evidence, then the plan's Option B restart, after which the rotation is taken up.
- The stand-in re-reads its secrets within its cache TTL: no secret-needs-restart finding, and
  the seconds until it took the rotation up are in the drill record (its check "rotated secret
  taken up"), for Vault and for AWS Secrets Manager.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from drillbook.config.loader import load_config
from tests.integration.drill_runs import run_drills
from tests.integration.processes import REPO

pytestmark = [pytest.mark.integration]

NOTES_CONFIG = REPO / "tests" / "services" / "notes.toml"
DRILL = "rotated_secret_taken_up_without_a_restart"
TAKE_UP_CHECK = "rotated secret taken up"
ROTATION_WINDOW_SECONDS = 6
"""The notes' window: it never takes the secret up, so the drill waits all of it."""
VAULT_ENVIRONMENT = (
    # Where secret_notes reads its JWT secret at start-up: the embedded OpenBao's KV v2 mount
    # "secret", at the path [secrets] jwt_secret names (its default), with the application's
    # token from the file the stack writes.
    'NOTES_VAULT_ADDR = "{vault_addr}"\n'
    'NOTES_VAULT_TOKEN_FILE = "{vault_token_file}"\n'
    'NOTES_JWT_PATH = "eleanor/prod/jwt-secret"\n'
)
WITHOUT_A_RESTART = re.compile(r"taken up (\d+\.\d+)s after the rotation without a restart")


def _secret_notes_config(tmp_path: Path) -> Path:
    """notes.toml with secret_notes in place of the notes service, reading its secret from
    the embedded Vault, and the secrets drills applicable (Vault only)."""
    text = NOTES_CONFIG.read_text(encoding="utf-8")
    text = text.replace("tests.services.notes_service", "tests.services.secret_notes")
    for old, new in (
        ('uses = ["database", "cache"]', 'uses = ["database", "cache", "secrets"]'),
        ("[stack.app.environment]\n", "[stack.app.environment]\n" + VAULT_ENVIRONMENT),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    assert "[secrets]" not in text
    text += f'\n[secrets]\nproviders = ["vault"]\nrotation_window = "{ROTATION_WINDOW_SECONDS}s"\n'
    assert "tests.services.secret_notes" in text
    path = tmp_path / "secret_notes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, config: Path | None) -> tuple[dict[str, Any], int]:
    """The rotation drill in a pytest subprocess on a stack of its own: the run file and the
    subprocess's exit code (stdout is in the run under "stdout")."""
    runs = tmp_path / f"runs-{config.stem if config else 'stand-in'}"
    run = run_drills(runs, ["drills/monthly/test_secrets_failure.py"], DRILL, config)
    return run, int(run["returncode"])


def _check(drill: dict[str, Any], name: str) -> dict[str, Any]:
    (check,) = [c for c in drill["checks"] if c["name"] == name]
    assert isinstance(check, dict)
    return check


def test_a_service_that_reads_its_secret_once_is_reported_and_restarted(tmp_path: Path) -> None:
    run, _ = _run(tmp_path, _secret_notes_config(tmp_path))
    (drill,) = run["drills"]
    assert drill["nodeid"].endswith("[vault]"), drill["nodeid"]

    # The finding, at the application, with what the polls saw during the whole window: the
    # new secret refused every time, the old one never.
    findings = drill["findings"]
    # Exactly this one: the calls it refused (401) are no dependency down behind a health
    # endpoint (drillbook.companions.health_blind_spot leaves refusals out).
    assert [f["kind"] for f in findings] == ["secret-needs-restart"], findings
    (finding,) = findings
    assert finding["component"] == "app"
    assert f"not taken up within {ROTATION_WINDOW_SECONDS}s of the rotation" in finding["summary"]
    assert "reads it once at start-up" in finding["summary"]
    evidence = finding["evidence"]
    assert evidence["taken_up"] is False
    assert evidence["seconds_until_taken_up"] is None
    assert evidence["window_seconds"] == ROTATION_WINDOW_SECONDS
    # One poll every probe interval from the rotation to the end of the window.
    assert evidence["polls"] >= ROTATION_WINDOW_SECONDS / 0.25 - 1, evidence
    assert set(evidence["statuses_new"]) == {"401"}, evidence
    assert "401" not in evidence["statuses_old"], evidence
    assert evidence["last_statuses"]["new"] == 401
    assert evidence["last_statuses"]["old"] in (200, 201)
    assert evidence["endpoint"] == "POST /notes"
    assert "Finding (secret-needs-restart) at app:" in run["stdout"]

    # Option B's restart followed, and the restarted service took the new secret up.
    taken_up = _check(drill, TAKE_UP_CHECK)
    assert taken_up["passed"], taken_up
    assert "taken up" in taken_up["detail"] and "after the restart" in taken_up["detail"]
    assert drill["rto"] is not None and drill["rto"]["outage_observed"], drill["rto"]
    assert drill["rto"]["within_objective"], drill["rto"]
    assert drill["rto"]["seconds"] > ROTATION_WINDOW_SECONDS  # users waited out the window
    assert drill["rpo"] is not None and drill["rpo"]["lost"] == 0, drill["rpo"]
    assert drill["phases"] and {p["name"] for p in drill["phases"]} >= {"recover", "recovered"}
    # The finding is not what decides the drill ([findings] fail_on is empty): its verdict is
    # the plan's verification and objectives. The revoked-secret half of it holds for the
    # notes service: the provider serves the new secret, not the old.
    served = _check(drill, "secret served by the provider")
    assert served["passed"], served
    assert "(and not the revoked value)" in served["detail"]
    # Authentication is tried on the service's own protected endpoint (POST /notes): the new
    # secret gets in, the old one and no token do not. The checks that read what only ELEANOR
    # exposes (its /health "secrets" block, GET /outbound/check) are recorded as not run, never
    # passed. With the finding beside it, the drill passes on its objectives.
    authentication = _check(drill, "authentication tested")
    assert authentication["passed"], authentication
    assert authentication["detail"].startswith("POST /notes: "), authentication
    assert {c["name"] for c in drill["checks_not_run"]} == {
        "secret retrieval verified",
        "LLM API calls tested",
    }, drill["checks_not_run"]
    assert all(not c["name"].startswith("LLM") for c in drill["checks"])
    assert drill["outcome"] == "passed", drill["failure"]


def test_the_stand_in_takes_the_rotation_up_without_a_restart(tmp_path: Path) -> None:
    run, returncode = _run(tmp_path, None)
    assert returncode == 0, run["stdout"][-5000:]
    drills = {d["nodeid"].rsplit("[", 1)[-1].rstrip("]"): d for d in run["drills"]}
    assert set(drills) == {"vault", "aws"}, list(drills)
    embedded = load_config(None)
    interval = embedded.probing.interval_seconds
    within = embedded.secrets.cache_ttl_seconds + interval
    for provider, drill in drills.items():
        assert drill["outcome"] == "passed", (provider, drill["failure"])
        taken_up = _check(drill, TAKE_UP_CHECK)
        assert taken_up["passed"], (provider, taken_up)
        seen = WITHOUT_A_RESTART.search(taken_up["detail"])
        assert seen is not None, (provider, taken_up["detail"])
        seconds = float(seen.group(1))
        # Its secrets cache refreshes within one TTL; the polls see it one interval later.
        assert seconds <= within, (provider, taken_up["detail"])
        assert drill["rto"] is not None and drill["rto"]["within_objective"], drill["rto"]
        # No finding of any kind: until a replica's cache refreshes, a call signed with the new
        # secret is refused (401) while /health says ok, which is no blind spot (the health
        # endpoint cannot know the caller's token is newer than its secret).
        assert drill["findings"] == [], (provider, drill["findings"])
    assert "Finding (secret-needs-restart)" not in run["stdout"]
