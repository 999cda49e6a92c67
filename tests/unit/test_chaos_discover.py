"""`chaos discover --no-install drillbook` lists the extension's activities: per resource, its
actions, probes and rollbacks, each with its arguments, defaults, types and docstring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chaostoolkit.cli import cli
from click.testing import CliRunner

from drillbook.chaos import RESOURCES, discover


def test_discover_lists_every_resource_with_actions_probes_and_rollbacks() -> None:
    activities = discover(discover_system=False)["activities"]
    by_module: dict[str, set[str]] = {}
    for activity in activities:
        by_module.setdefault(activity["mod"], set()).add(activity["type"])
        assert activity["doc"], f"{activity['mod']}.{activity['name']} has no docstring"
    for resource in RESOURCES:
        assert by_module[f"drillbook.chaos.{resource}.probes"] == {"probe"}
        assert by_module[f"drillbook.chaos.{resource}.rollbacks"] == {"action"}
        if resource != "drill":
            assert by_module[f"drillbook.chaos.{resource}.actions"] == {"action"}


def test_activity_arguments_are_plain_keyword_arguments_with_types() -> None:
    activities = discover(discover_system=False)["activities"]
    (kill,) = [a for a in activities if a["name"] == "kill_replicas"]
    assert kill["arguments"] == [
        {"name": "component", "default": "app", "type": "string"},
        {"name": "count", "default": "all", "type": "string"},
    ]
    (backups,) = [a for a in activities if a["name"] == "take_backups"]
    assert {a["name"]: a["type"] for a in backups["arguments"]} == {
        "dump": "boolean",
        "base_backup": "boolean",
        "writes_after_seconds": "number",
    }


def test_chaos_discover_finds_the_extension_by_its_distribution_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "--no-version-check",
            "--no-log-file",
            "discover",
            "--no-system-info",
            "--no-install",
            "drillbook",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    discovery = json.loads((tmp_path / "discovery.json").read_text())
    assert discovery["extension"]["name"] == "drillbook"
    names = {a["name"] for a in discovery["activities"]}
    assert {"kill_replicas", "restore_from_backup", "rto_within_objective"} <= names
