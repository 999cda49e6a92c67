"""`drillbook check-config`: what it says about each shipped configuration.

The ledger line matters most: a configuration without a writer runs drills that measure no data
loss at all, which is easy to miss; check-config says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["check-config", *args]) == 0
    return capsys.readouterr().out


def test_production_config_measures_evidence_loss_through_the_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _check(capsys, str(CONFIGS / "eleanor-v8-production.toml"))
    assert "valid" in out
    assert (
        "ledger: 0.25 writes/s to /deliberate (evidence), read back from table "
        "evidence_records (DSN from $ELEANOR_EVIDENCE_DSN)"
    ) in out


def test_a_config_without_a_writer_says_no_data_loss_is_measured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _check(capsys, str(CONFIGS / "kwok-local.toml"))
    assert "ledger: none ([ledger] write_path unset): drills measure no data loss" in out


def test_every_shipped_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted(CONFIGS.glob("*.toml")):
        out = _check(capsys, str(path))
        assert out.startswith(f"{path}: valid"), out


def test_a_config_with_its_own_service_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests/services/notes.toml"]) == 0
    out = capsys.readouterr().out
    assert "own service ([stack.app]):" in out
    assert "uses database, cache (other drills: not applicable)" in out


def test_a_secret_the_file_points_at_is_never_printed_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drillbook.config.loader import _read_embedded
    from drillbook.core.redaction import REDACTOR

    secret = "pasted-by-mistake-8c1f0e"
    monkeypatch.setenv("DRILL_TEST_JWT", secret)
    # The secret's value also pasted where a name belongs: check-config echoes that name.
    config = tmp_path / "pasted.toml"
    text = (
        _read_embedded()
        .replace('name = "eleanor-reference"', f'name = "{secret}"', 1)
        .replace('secret_env = "ELEANOR_JWT_SECRET"', 'secret_env = "DRILL_TEST_JWT"', 1)
    )
    assert secret in text and "DRILL_TEST_JWT" in text, "the embedded configuration changed"
    config.write_text(text)
    try:
        out = _check(capsys, str(config))
    finally:
        REDACTOR.clear()
    assert secret not in out
    assert "target ***REDACTED*** (drill)" in out, out
