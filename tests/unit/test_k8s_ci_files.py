"""The users' CI workflow and the build script: valid, and in step with the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.control_plane import BINARIES, K8S_VERSION

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "drills.yml"
README = REPO / "README.md"
COMMANDS = ("kind ", "docker ", "kubectl ", "pytest ", "drillbook ")


def workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def run_lines() -> list[str]:
    """Every command line of the workflow's run steps, continuation lines joined."""
    lines: list[str] = []
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            lines += _logical_lines(step.get("run", ""))
    return lines


def _logical_lines(script: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", script)
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def readme_kind_commands() -> list[str]:
    text = README.read_text()
    section = text.split("### The drills on kind", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in _logical_lines(block) if line.startswith(COMMANDS)]


def test_the_workflow_is_valid_yaml_with_a_schedule_and_a_job() -> None:
    document = workflow()
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    triggers = document.get("on", document.get(True))
    assert isinstance(triggers, dict)
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    (job,) = document["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)


def test_the_workflow_runs_every_command_the_readme_gives_for_kind() -> None:
    commands = readme_kind_commands()
    assert len(commands) >= 8
    lines = run_lines()
    missing = [c for c in commands if c not in lines]
    assert not missing, f"README commands the workflow does not run: {missing}"


def test_the_workflow_creates_a_kind_cluster_deploys_runs_the_drills_and_publishes() -> None:
    lines = run_lines()
    order = [
        "kind create cluster --config k8s/kind-cluster.yaml",
        "kind load docker-image drillbook/eleanor-reference:dev --name eleanor-drills",
        "kubectl apply -k k8s/production/",
        "pytest drills/monthly --drillbook-config configs/kind.toml "
        "--alluredir=reports/allure-results",
        "drillbook report",
    ]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)
    artifact = next(
        s
        for s in workflow()["jobs"]["monthly-drills"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact@")
    )
    assert "reports/allure-results" in artifact["with"]["path"]
    assert artifact["if"].startswith("always()")


def test_the_build_script_builds_the_version_and_binaries_the_tests_look_for() -> None:
    script = (REPO / "scripts" / "build-k8s.sh").read_text()
    assert f'k8s_version="${{DRILLBOOK_K8S_VERSION:-{K8S_VERSION}}}"' in script
    for name in BINARIES:
        if name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert f"build_k8s_command {name}" in script
    assert "build_etcd" in script and "build_kwok kwok" in script and "install_kubectl" in script
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "bash scripts/build-k8s.sh" in setup
