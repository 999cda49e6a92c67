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
