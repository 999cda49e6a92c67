"""The users' CI workflow runs the same steps as a run on drillbook's own machines: the same
script (scripts/kind-up.sh, with only DRILLBOOK_KIND_PUBLISHED=1 added), the same drill.env, the
same pytest command and configuration, and uploads the report a local run writes. Compared
line by line with the README's kind commands, so the two cannot drift."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from drillbook.cli import HTML_DIR, RESULTS_DIR
from tests.k8s.control_plane import BINARIES, K8S_VERSION

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "drills.yml"
README = REPO / "README.md"
KIND_UP = REPO / "scripts" / "kind-up.sh"
TEST_SH = REPO / "scripts" / "test.sh"
KIND_CONFIG = "configs/kind.toml"
# The runner is thrown away after the job; on a machine that stays, kind-down.sh cleans up.
LOCAL_ONLY = ("bash scripts/kind-down.sh",)


def workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def job() -> dict[str, Any]:
    (only,) = workflow()["jobs"].values()
    assert isinstance(only, dict)
    return only


def steps() -> list[dict[str, Any]]:
    found = job()["steps"]
    assert isinstance(found, list)
    return found


def _logical_lines(script: str) -> list[str]:
    """Command lines, continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n\s*", " ", script)
    lines = [" ".join(line.split()) for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def run_lines() -> list[str]:
    """Every command line of the workflow's run steps, in order."""
    return [line for step in steps() for line in _logical_lines(step.get("run", ""))]


def readme_kind_commands() -> list[str]:
    section = README.read_text().split("### The drills on kind", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return _logical_lines(block)


def kind_up_default(variable: str) -> str:
    """The default scripts/kind-up.sh gives NAME="${VARIABLE:-default}"."""
    match = re.search(rf'^\w+="\$\{{{variable}:-([^}}]*)\}}"$', KIND_UP.read_text(), re.M)
    assert match, f"scripts/kind-up.sh reads no {variable}"
    return match.group(1)


def is_subsequence(wanted: list[str], lines: list[str]) -> bool:
    remaining = iter(lines)
    return all(any(line == w for line in remaining) for w in wanted)


def test_the_workflow_is_valid_yaml_with_a_schedule_and_one_job() -> None:
    document = workflow()
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    triggers = document.get("on", document.get(True))
    assert isinstance(triggers, dict)
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert job()["runs-on"] == "ubuntu-latest"
    assert job()["timeout-minutes"] <= 60


def test_the_workflow_runs_the_readme_kind_commands_in_order_in_one_shell() -> None:
    commands = [c for c in readme_kind_commands() if c not in LOCAL_ONLY]
    assert commands[0] == 'KUBECONFIG="$(bash scripts/kind-up.sh)"', commands
    # One step: KUBECONFIG and drill.env's variables must reach the pytest that follows.
    drill_step = next(s for s in steps() if "bash scripts/kind-up.sh" in s.get("run", ""))
    drill_lines = _logical_lines(drill_step["run"])
    in_the_step = [c for c in commands if c != "drillbook report"]
    assert is_subsequence(in_the_step, drill_lines), (in_the_step, drill_lines)
    assert is_subsequence(commands, run_lines()), (commands, run_lines())
    # Nothing else creates a cluster, deploys or runs drills behind the script's back.
    for line in run_lines():
        assert not line.startswith(("kind ", "kubectl apply", "kubectl create")), line
        assert not line.startswith("pytest ") or line in commands, line


def test_the_same_script_with_only_the_published_switch_and_the_same_secrets_file() -> None:
    settings = {k: v for k, v in job().get("env", {}).items()}
    for step in steps():
        settings.update(step.get("env", {}))
    kind_up = KIND_UP.read_text()
    # kind-up.sh's switches the workflow sets: the published one only, and kind-up.sh has it.
    switches = {k: v for k, v in settings.items() if k.startswith("DRILLBOOK_")}
    assert switches == {"DRILLBOOK_KIND_PUBLISHED": "1"}, switches
    assert kind_up_default("DRILLBOOK_KIND_PUBLISHED") == "0"
    assert '[[ "$published" == 1 ]]' in kind_up
    assert "DRILLBOOK_KIND_PUBLISHED=1" in kind_up.split("set -euo pipefail", 1)[0]
    # drill.env where kind-up.sh writes it (default cache, default cluster name).
    cluster = kind_up_default("DRILLBOOK_KIND_CLUSTER")
    assert 'state="$cache/kind-clusters/$cluster"' in kind_up
    assert 'drill_env="$state/drill.env"' in kind_up
    drill_env = f"~/.cache/drillbook/kind-clusters/{cluster}/drill.env"
    assert f"set -a; . {drill_env}; set +a" in run_lines()
    # The kind context configs/kind.toml drills is the cluster kind-up.sh creates.
    assert f'context = "kind-{cluster}"' in (REPO / KIND_CONFIG).read_text()
    # drillbook's own kind tests bring the cluster up through the same script.
    assert '"scripts" / "kind-up.sh"' in (REPO / "tests" / "kind" / "cluster.py").read_text()


def test_stock_kind_and_kubectl_at_the_versions_the_local_build_pins() -> None:
    (installer,) = [s for s in steps() if s.get("uses", "").startswith("helm/kind-action@")]
    assert installer["with"]["install_only"] is True
    kind_version = kind_up_default("DRILLBOOK_KIND_VERSION")
    k8s_version = kind_up_default("DRILLBOOK_K8S_VERSION")
    assert installer["with"]["version"] == kind_version
    assert installer["with"]["kubectl_version"] == k8s_version == K8S_VERSION
    build_kind = (REPO / "scripts" / "build-kind.sh").read_text()
    assert f'kind_version="${{DRILLBOOK_KIND_VERSION:-{kind_version}}}"' in build_kind
    assert f'k8s_version="${{DRILLBOOK_K8S_VERSION:-{k8s_version}}}"' in build_kind


def test_published_mode_deploys_the_same_stack_and_images_as_here() -> None:
    """With registry access only the cluster's making differs: the stack (deploy/kind/overlay),
    its images and every kind-only manifest are the ones drilled here, not a second set."""
    kind_up = KIND_UP.read_text()
    deploy = kind_up.split('if [[ "$deploy" == 1 ]]; then', 1)[1]
    assert deploy.count("stack=") == 1
    assert 'stack="$repo/deploy/kind/overlay"' in deploy
    assert deploy.count("images=(") == 1
    overlay = yaml.safe_load(
        (REPO / "deploy" / "kind" / "overlay" / "kustomization.yaml").read_text()
    )
    named = {entry["newName"] + ":" + entry["newTag"] for entry in overlay["images"]}
    listed = set(
        re.findall(r"drillbook/[a-z]+:local", deploy.split("images=(", 1)[1].split(")", 1)[0])
    )
    assert named <= listed, (
        f"the overlay runs {sorted(named - listed)}, which kind-up.sh does not load"
    )
    # Where the published switch still branches after the cluster exists: only how the images'
    # Debian base is made.
    after_cluster = deploy.split('"$published"')
    assert len(after_cluster) == 2, "DRILLBOOK_KIND_PUBLISHED changes more than the images' base"
    assert "DRILLBOOK_BASE_IMAGE" in after_cluster[1].split("fi", 1)[0]
    for manifest in ("kind-postgres.yaml", "kind-postgres-backups.yaml", "kind-secrets.yaml"):
        assert f'k apply -f "$repo/k8s/{manifest}"' in deploy
    assert 'k apply -f "$repo/k8s/kind-redis.yaml"' in deploy
    assert 'k apply -f "$repo/k8s/kind-weaviate.yaml"' in deploy


def test_the_pytest_command_and_the_artifact_are_the_local_runs() -> None:
    (pytest_line,) = [line for line in run_lines() if line.startswith("pytest ")]
    assert pytest_line == (
        f"pytest drills/monthly --drillbook-config {KIND_CONFIG} --alluredir={RESULTS_DIR}"
    )
    assert pytest_line in readme_kind_commands()
    # `drillbook report` renders RESULTS_DIR into HTML_DIR (index.html): the local run's report.
    render = next(s for s in steps() if "drillbook report" in s.get("run", ""))
    assert _logical_lines(render["run"]) == ["bash scripts/install-allure.sh", "drillbook report"]
    assert render["if"].startswith("always()")
    (artifact,) = [s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@")]
    paths = artifact["with"]["path"].split()
    assert paths == [str(HTML_DIR), str(RESULTS_DIR)], paths
    assert artifact["if"].startswith("always()")
    order = [steps().index(s) for s in (render, artifact)]
    assert order == sorted(order)


def test_ci_runs_the_kind_tests_with_the_same_script_and_deletes_only_its_own_cluster() -> None:
    script = TEST_SH.read_text()
    assert "DRILLBOOK_KIND=1" in script and "tests/kind" in script
    assert "bash scripts/kind-down.sh" in script
    # The kind lane runs after the rest of the suite, which leaves tests/kind out.
    assert script.index("--ignore=tests/kind") < script.index("DRILLBOOK_KIND=1")


def test_the_build_script_builds_the_version_and_binaries_the_tests_look_for() -> None:
    script = (REPO / "scripts" / "build-k8s.sh").read_text()
    assert f'k8s_version="${{DRILLBOOK_K8S_VERSION:-{K8S_VERSION}}}"' in script
    for name in BINARIES:
        if name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert f"build_k8s_command {name}" in script
    assert "build_etcd" in script and "build_kwok kwok" in script and "install_kubectl" in script
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "bash scripts/build-k8s.sh" in setup
