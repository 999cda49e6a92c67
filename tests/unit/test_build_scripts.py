"""The set-up's build scripts work from nothing and never take a half-done build for finished.

The real scripts (scripts/build-weaviate.sh, build-k8s.sh, install-allure.sh) run against
stand-ins for `go`, `node` and `npm` written into tmp_path and put first on PATH: they answer
what the scripts ask (`go mod download -json`, `go env GOCACHE`, `go mod tidy`, `go build -o`,
`go install`; `node --version`; `npm install --prefix`), log every call, and can be told to fail
or to hang (then the script's process group is SIGKILLed, as a Ctrl-C or a killed CI job would).
Each run takes well under a second.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"

WEAVIATE_VERSION = "v1.39.0"
K8S_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.3"
KWOK_VERSION = "v0.8.0"
K8S_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kwokctl",
    "kubectl",
)

FAKE_GO = r"""#!/usr/bin/env bash
# A stand-in for the go command: what scripts/build-*.sh ask of it, without building anything.
#   FAKE_GO_ROOT          the module tree (mod/PATH@VERSION, mod/PATH@VERSION.mod), the call log
#   FAKE_GO_MODE          ok (default), fail or hang: what a build, install or tidy does when
#   FAKE_GO_TRIP          is found in "$PWD $*" (default: always)
#   FAKE_GO_SECONDS       how long a build that succeeds takes (default 0), when
#   FAKE_GO_SLOW          is found in "$PWD $*" (default: always)
set -euo pipefail
root="$FAKE_GO_ROOT"
printf '%s\t%s\n' "$PWD" "$*" >>"$root/calls.log"

# trip OUTPUT: fail or hang as told; a hanging build has already written part of OUTPUT.
trip() {
    local mode="${FAKE_GO_MODE:-ok}" trip="${FAKE_GO_TRIP:-}"
    [[ "$mode" == ok ]] && return 0
    [[ -n "$trip" && "$PWD $ARGS" != *"$trip"* ]] && return 0
    if [[ "$mode" == fail ]]; then
        echo "go: stand-in failure of: $ARGS" >&2
        exit 1
    fi
    if [[ -n "${1:-}" ]]; then
        mkdir -p "$(dirname "$1")"
        printf '#!/bin/sh\necho half-written\n' >"$1"
        chmod +x "$1"
    fi
    echo "$ARGS" >"$root/hanging"
    sleep 600
}
ARGS="$*"

case "$1" in
    env)
        [[ "${2:-}" == GOCACHE ]] && echo "$root/gocache"
        ;;
    mod)
        case "$2" in
            download)
                module="${*: -1}"
                path="${module%@*}"
                version="${module##*@}"
                dir="$root/mod/$path@$version"
                [[ -d "$dir" ]] || { echo "go: $module: not found (stand-in)" >&2; exit 1; }
                # The layout of the real `go mod download -json`: one field a line.
                printf '{\n'
                printf '\t"Path": "%s",\n\t"Version": "%s",\n' "$path" "$version"
                printf '\t"Info": "%s.info",\n\t"GoMod": "%s.mod",\n' "$dir" "$dir"
                printf '\t"Zip": "%s.zip",\n\t"Dir": "%s",\n' "$dir" "$dir"
                printf '\t"Sum": "h1:stand-in=",\n\t"GoModSum": "h1:stand-in="\n}\n'
                ;;
            tidy)
                [[ -f go.mod ]] || { echo "go: no go.mod in $PWD" >&2; exit 1; }
                trip go.sum
                echo "stand-in go.sum" >go.sum
                ;;
            *) echo "go mod $2: not in the stand-in" >&2; exit 2 ;;
        esac
        ;;
    build | install)
        out=""
        args=("$@")
        for ((i = 0; i < ${#args[@]}; i++)); do
            [[ "${args[i]}" == -o ]] && out="${args[i + 1]}"
        done
        target="${args[${#args[@]} - 1]}"
        if [[ "$1" == install ]]; then
            name="${target%@*}"
            out="${GOBIN:?go install without GOBIN}/${name##*/}"
        fi
        [[ -n "$out" ]] || { echo "go build without -o (stand-in)" >&2; exit 2; }
        trip "$out"
        [[ "$PWD $ARGS" == *"${FAKE_GO_SLOW:-}"* ]] && sleep "${FAKE_GO_SECONDS:-0}"
        mkdir -p "$(dirname "$out")"
        printf '#!/bin/sh\necho "stand-in for %s"\n' "$target" >"$out"
        chmod +x "$out"
        ;;
    *) echo "go $1: not in the stand-in" >&2; exit 2 ;;
esac
"""

# The three lines build-weaviate.sh patches, as Weaviate v1.39.0 has them.
WEAVIATE_FILES = {
    "adapters/handlers/grpc/server.go": (
        "package grpc\n\n"
        "func StartAndListen(state *state.State) error {\n"
        '\tlis, err := net.Listen("tcp", fmt.Sprintf(":%d", state.ServerConfig.Config.GRPC.Port))\n'
        "\treturn serve(lis, err)\n}\n"
    ),
    "adapters/handlers/rest/clusterapi/grpc/server.go": (
        "package grpc\n\n"
        "func (s *Server) Open() error {\n"
        '\tlis, err := net.Listen("tcp", fmt.Sprintf(":%d", s.port))\n'
        "\treturn s.serve(lis, err)\n}\n"
    ),
    "adapters/handlers/rest/clusterapi/serve.go": (
        "package clusterapi\n\n"
        "func Serve(appState *state.State) {\n"
        "\tport := appState.ServerConfig.Config.Cluster.DataBindPort\n"
        "\tsrv := &http.Server{\n"
        '\t\tAddr:      fmt.Sprintf(":%d", port),\n'
        "\t\tHandler:   handler,\n"
        "\t}\n}\n"
    ),
    "cmd/weaviate-server/main.go": "package main\n\nfunc main() {}\n",
    "go.mod": "module github.com/weaviate/weaviate\n\ngo 1.24\n",
}

KUBERNETES_GO_MOD = """module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
\tgithub.com/spf13/cobra v1.10.0
\tk8s.io/api v0.0.0
\tk8s.io/apimachinery v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""


@dataclass
class Bench:
    """A stand-in toolchain and a place to run the build scripts from."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def calls_log(self) -> Path:
        return self.root / "calls.log"

    def calls(self) -> list[str]:
        """The stand-in go's calls so far: "DIR<TAB>ARGS" lines."""
        if not self.calls_log.exists():
            return []
        return self.calls_log.read_text().splitlines()

    def builds(self, since: int = 0) -> list[str]:
        """The `go build` and `go install` calls (their arguments) after the first `since` calls."""
        out = []
        for line in self.calls()[since:]:
            args = line.split("\t", 1)[1]
            if args.startswith(("build ", "install ")):
                out.append(args)
        return out

    def run(
        self, script: Path, extra: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script)],
            env={**self.env, **(extra or {})},
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def run_and_kill(
        self, script: Path, extra: Mapping[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a script whose stand-in hangs; SIGKILL its whole process group once it hangs."""
        hanging = self.root / "hanging"
        hanging.unlink(missing_ok=True)
        process = subprocess.Popen(
            ["bash", str(script)],
            env={**self.env, **extra},
            cwd=cwd or self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not hanging.exists():
                assert process.poll() is None, f"ended before hanging: {process.communicate()}"
                assert time.monotonic() < deadline, "the stand-in never hung"
                time.sleep(0.02)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate(timeout=30)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    root = tmp_path / "bench"
    _write_executable(root / "fakebin" / "go", FAKE_GO)
    _write_executable(
        root / "fakebin" / "kubectl",
        '#!/bin/sh\n[ "$1" = version ] && exit 0\nexit 1\n',
    )
    weaviate = root / "mod" / f"github.com/weaviate/weaviate@{WEAVIATE_VERSION}"
    for relative, text in WEAVIATE_FILES.items():
        (weaviate / relative).parent.mkdir(parents=True, exist_ok=True)
        (weaviate / relative).write_text(text)
    # As in Go's module cache: read-only files and folders.
    for path in [*sorted(weaviate.rglob("*"), reverse=True), weaviate]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    kubernetes = root / "mod" / f"k8s.io/kubernetes@{K8S_VERSION}"
    kubernetes.mkdir(parents=True)
    Path(f"{kubernetes}.mod").write_text(KUBERNETES_GO_MOD)
    env = {
        "PATH": f"{root / 'fakebin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "FAKE_GO_ROOT": str(root),
        "DRILLBOOK_HEARTBEAT_SECONDS": "1",
        "KUBECTL": str(root / "fakebin" / "kubectl"),
    }
    yield Bench(root=root, env=env)
    for path in [weaviate, *weaviate.rglob("*")]:
        path.chmod(0o755)


CACHE_CASES = ["missing", "empty-folder", "unset", "empty-string", "relative"]


def cache_env(tmp_path: Path, case: str) -> tuple[dict[str, str], Path, Path]:
    """(environment, working directory, expected cache) for each way DRILLBOOK_CACHE comes."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    home_cache = tmp_path / "home" / ".cache" / "drillbook"
    if case == "missing":
        cache = tmp_path / "no" / "such" / "cache"
        return {"DRILLBOOK_CACHE": str(cache)}, work, cache
    if case == "empty-folder":
        cache = tmp_path / "empty-cache"
        cache.mkdir()
        return {"DRILLBOOK_CACHE": str(cache)}, work, cache
    if case == "unset":
        return {}, work, home_cache
    if case == "empty-string":
        return {"DRILLBOOK_CACHE": ""}, work, home_cache
    assert case == "relative"
    return {"DRILLBOOK_CACHE": "rel/cache"}, work, work / "rel" / "cache"


# --- build-weaviate.sh ----------------------------------------------------------------------

WEAVIATE = SCRIPTS / "build-weaviate.sh"


def weaviate_paths(cache: Path) -> tuple[Path, Path]:
    dest = cache / f"weaviate-{WEAVIATE_VERSION}"
    return dest / "bin" / "weaviate-server", dest / "build.stamp"


@pytest.mark.parametrize("case", CACHE_CASES)
def test_weaviate_builds_from_nothing_then_is_already_built(
    bench: Bench, tmp_path: Path, case: str
) -> None:
    extra, cwd, cache = cache_env(tmp_path, case)
    first = bench.run(WEAVIATE, extra, cwd)
    assert first.returncode == 0, first.stderr
    binary, stamp = weaviate_paths(cache)
    assert os.access(binary, os.X_OK), first.stderr
    assert "stand-in for ./cmd/weaviate-server" in binary.read_text()
    assert stamp.read_text().startswith(f"{WEAVIATE_VERSION} ")
    assert not (binary.parent.parent / "src").exists(), "the source copy is left behind"
    assert len(bench.builds()) == 1
    (build_dir,) = [line.split("\t")[0] for line in bench.calls() if "\tbuild " in line]
    assert build_dir == str(cache / f"weaviate-{WEAVIATE_VERSION}" / "src")

    calls = len(bench.calls())
    second = bench.run(WEAVIATE, extra, cwd)
    assert second.returncode == 0, second.stderr
    assert "already built" in second.stderr
    assert bench.builds(since=calls) == []


def test_weaviate_patches_the_copy_not_the_module(bench: Bench, tmp_path: Path) -> None:
    # The stand-in build records the patched file it was given.
    copy_patched = 'cp adapters/handlers/rest/clusterapi/serve.go "$FAKE_GO_ROOT/serve.go.seen"\n'
    go = bench.root / "fakebin" / "go"
    text = go.read_text()
    assert text.count('        trip "$out"\n') == 1
    go.write_text(
        text.replace('        trip "$out"\n', f'        {copy_patched}        trip "$out"\n')
    )
    result = bench.run(WEAVIATE, {"DRILLBOOK_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    seen = (bench.root / "serve.go.seen").read_text()
    assert 'fmt.Sprintf("%s:%d", appState.ServerConfig.Config.Cluster.BindAddr, port)' in seen
    module = bench.root / "mod" / f"github.com/weaviate/weaviate@{WEAVIATE_VERSION}"
    assert (
        'fmt.Sprintf(":%d", port)'
        in (module / "adapters/handlers/rest/clusterapi/serve.go").read_text()
    )


def test_weaviate_reports_progress_and_records_the_build_time(bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extra = {"DRILLBOOK_CACHE": str(cache), "FAKE_GO_SECONDS": "2.5"}
    first = bench.run(WEAVIATE, extra)
    assert first.returncode == 0, first.stderr
    assert "no build recorded here; a cold one takes about 5.5 min on 2 cores" in first.stderr
    assert re.search(r"build-weaviate: still building weaviate: 0m0[12]s elapsed", first.stderr)
    (record,) = (cache / "build-times.txt").read_text().splitlines()
    name, version, seconds, _when = record.split()
    assert (name, version) == ("weaviate", WEAVIATE_VERSION)
    assert seconds.endswith("s") and int(seconds[:-1]) >= 2

    _binary, stamp = weaviate_paths(cache)
    stamp.unlink()
    second = bench.run(WEAVIATE, extra)
    assert second.returncode == 0, second.stderr
    last = f"last build took 0m{int(seconds[:-1]):02d}s"
    assert f"building weaviate {WEAVIATE_VERSION} into" in second.stderr
    assert last in second.stderr
    assert re.search(rf"still building weaviate: 0m0[12]s elapsed, {last}\n", second.stderr)


def test_a_failed_weaviate_build_leaves_no_binary_or_stamp(bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    started = time.monotonic()
    failed = bench.run(
        WEAVIATE,
        {
            "DRILLBOOK_CACHE": str(cache),
            "FAKE_GO_MODE": "fail",
            "DRILLBOOK_HEARTBEAT_SECONDS": "30",
        },
    )
    assert failed.returncode != 0
    assert "go: stand-in failure" in failed.stderr
    # The heartbeat went with the script: nothing kept its output open for another 30 s.
    assert time.monotonic() - started < 10
    binary, stamp = weaviate_paths(cache)
    assert not binary.exists() and not stamp.exists()

    calls = len(bench.calls())
    again = bench.run(WEAVIATE, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert len(bench.builds(since=calls)) == 1
    assert os.access(binary, os.X_OK) and stamp.exists()


def test_a_weaviate_build_killed_midway_leaves_nothing_that_looks_built(
    bench: Bench, tmp_path: Path
) -> None:
    cache = tmp_path / "no" / "cache"
    killed = bench.run_and_kill(WEAVIATE, {"DRILLBOOK_CACHE": str(cache), "FAKE_GO_MODE": "hang"})
    assert killed.returncode == -signal.SIGKILL
    binary, stamp = weaviate_paths(cache)
    assert not binary.exists(), "a half-written binary under the final name"
    assert not stamp.exists()

    calls = len(bench.calls())
    again = bench.run(WEAVIATE, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert "already built" not in again.stderr
    assert len(bench.builds(since=calls)) == 1
    assert "stand-in for" in binary.read_text()
    assert stamp.exists()


def test_a_weaviate_rebuild_killed_midway_leaves_no_old_binary_or_stamp(
    bench: Bench, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert bench.run(WEAVIATE, {"DRILLBOOK_CACHE": str(cache)}).returncode == 0
    binary, stamp = weaviate_paths(cache)
    stamp.write_text(f"{WEAVIATE_VERSION} an-older-patch\n")  # the patch changed: rebuild
    killed = bench.run_and_kill(WEAVIATE, {"DRILLBOOK_CACHE": str(cache), "FAKE_GO_MODE": "hang"})
    assert killed.returncode == -signal.SIGKILL
    assert not binary.exists(), "the older patch's binary is still there to be run"
    assert not stamp.exists()
    again = bench.run(WEAVIATE, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert binary.exists() and stamp.exists()


# --- build-k8s.sh ---------------------------------------------------------------------------

K8S = SCRIPTS / "build-k8s.sh"


def k8s_root(cache: Path) -> Path:
    return cache / f"k8s-{K8S_VERSION}"


def stamp_of(cache: Path, name: str) -> Path:
    version = {"etcd": ETCD_VERSION, "kwok": KWOK_VERSION, "kwokctl": KWOK_VERSION}.get(
        name, K8S_VERSION
    )
    return k8s_root(cache) / "stamps" / f"{name}-{version}"


@pytest.mark.parametrize("case", CACHE_CASES)
def test_k8s_builds_from_nothing_then_is_already_built(
    bench: Bench, tmp_path: Path, case: str
) -> None:
    extra, cwd, cache = cache_env(tmp_path, case)
    first = bench.run(K8S, extra, cwd)
    assert first.returncode == 0, first.stderr
    bin_dir = k8s_root(cache) / "bin"
    for name in K8S_BINARIES:
        assert os.access(bin_dir / name, os.X_OK), f"{name} missing\n{first.stderr}"
        assert stamp_of(cache, name).exists(), name
        assert not (bin_dir / f"{name}.tmp").exists()
    assert (bin_dir / "kubectl").read_bytes() == (bench.root / "fakebin" / "kubectl").read_bytes()
    wrapper = k8s_root(cache) / "src" / "kubernetes"
    go_mod = (wrapper / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {K8S_VERSION}" in go_mod
    for module in ("k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go"):
        assert f"\t{module} => {module} v0.37.2\n" in go_mod
    assert "go 1.25.0\n" in go_mod and "godebug default=go1.25\n" in go_mod
    assert (wrapper / f".ready-{K8S_VERSION}").exists()
    built = {line.split()[0] for line in (cache / "build-times.txt").read_text().splitlines()}
    assert built == set(K8S_BINARIES) - {"kubectl"}

    calls = len(bench.calls())
    second = bench.run(K8S, extra, cwd)
    assert second.returncode == 0, second.stderr
    assert "already built" in second.stderr
    assert bench.builds(since=calls) == []
    assert not any("\tmod tidy" in line for line in bench.calls()[calls:])


def test_k8s_builds_kubectl_when_the_wheel_has_none(bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = bench.run(K8S, {"DRILLBOOK_CACHE": str(cache), "KUBECTL": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    kubectl = k8s_root(cache) / "bin" / "kubectl"
    assert "stand-in for k8s.io/kubernetes/cmd/kubectl" in kubectl.read_text()


def test_k8s_reports_progress_with_a_heartbeat(bench: Bench, tmp_path: Path) -> None:
    extra = {
        "DRILLBOOK_CACHE": str(tmp_path / "cache"),
        "FAKE_GO_SECONDS": "2.5",
        "FAKE_GO_SLOW": "cmd/kube-apiserver",
    }
    result = bench.run(K8S, extra)
    assert result.returncode == 0, result.stderr
    assert (
        f"build-k8s: building kube-apiserver {K8S_VERSION} "
        "(no build recorded here; a cold one takes about" in result.stderr
    )
    assert re.search(
        r"build-k8s: still building kube-apiserver: 0m0[12]s elapsed, no build", result.stderr
    )


def test_a_k8s_build_killed_midway_is_rebuilt_and_only_it(bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    killed = bench.run_and_kill(
        K8S,
        {
            "DRILLBOOK_CACHE": str(cache),
            "FAKE_GO_MODE": "hang",
            "FAKE_GO_TRIP": "cmd/kube-scheduler",
        },
    )
    assert killed.returncode == -signal.SIGKILL
    bin_dir = k8s_root(cache) / "bin"
    for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
        assert os.access(bin_dir / name, os.X_OK) and stamp_of(cache, name).exists()
    assert not (bin_dir / "kube-scheduler").exists(), "a half-written binary under the final name"
    assert not stamp_of(cache, "kube-scheduler").exists()

    calls = len(bench.calls())
    again = bench.run(K8S, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    rebuilt = " ".join(bench.builds(since=calls))
    assert "cmd/kube-scheduler" in rebuilt
    for name in ("etcd/server", "cmd/kube-apiserver", "cmd/kube-controller-manager"):
        assert name not in rebuilt
    assert (
        "stand-in for k8s.io/kubernetes/cmd/kube-scheduler"
        in (bin_dir / "kube-scheduler").read_text()
    )


def test_a_k8s_binary_whose_build_fails_is_not_stamped(bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    failed = bench.run(
        K8S, {"DRILLBOOK_CACHE": str(cache), "FAKE_GO_MODE": "fail", "FAKE_GO_TRIP": "cmd/kwokctl"}
    )
    assert failed.returncode != 0
    assert os.access(k8s_root(cache) / "bin" / "kwok", os.X_OK)
    assert not (k8s_root(cache) / "bin" / "kwokctl").exists()
    assert not stamp_of(cache, "kwokctl").exists()
    again = bench.run(K8S, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert stamp_of(cache, "kwokctl").exists()


def test_an_etcd_version_bump_killed_midway_leaves_no_old_etcd(
    bench: Bench, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert bench.run(K8S, {"DRILLBOOK_CACHE": str(cache)}).returncode == 0
    bump = {"DRILLBOOK_CACHE": str(cache), "DRILLBOOK_ETCD_VERSION": "v3.7.4"}
    killed = bench.run_and_kill(
        K8S, {**bump, "FAKE_GO_MODE": "hang", "FAKE_GO_TRIP": "etcd/server/v3"}
    )
    assert killed.returncode == -signal.SIGKILL
    stamps = k8s_root(cache) / "stamps"
    assert not (k8s_root(cache) / "bin" / "etcd").exists()
    assert not list(stamps.glob("etcd-*"))
    again = bench.run(K8S, bump)
    assert again.returncode == 0, again.stderr
    assert (stamps / "etcd-v3.7.4").exists()


def test_a_wrapper_module_killed_while_resolving_is_resolved_again(
    bench: Bench, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    killed = bench.run_and_kill(
        K8S,
        {
            "DRILLBOOK_CACHE": str(cache),
            "FAKE_GO_MODE": "hang",
            "FAKE_GO_TRIP": "src/kubernetes mod tidy",
        },
    )
    assert killed.returncode == -signal.SIGKILL
    wrapper = k8s_root(cache) / "src" / "kubernetes"
    assert (wrapper / "go.sum").exists()  # the stand-in wrote part of it
    assert not list(wrapper.glob(".ready-*"))

    calls = len(bench.calls())
    again = bench.run(K8S, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr
    assert any(line == f"{wrapper}\tmod tidy" for line in bench.calls()[calls:]), (
        "the interrupted module was taken as ready"
    )
    assert (wrapper / f".ready-{K8S_VERSION}").exists()


# --- install-allure.sh ----------------------------------------------------------------------

ALLURE = SCRIPTS / "install-allure.sh"
ALLURE_VERSION = (SCRIPTS / "allure-version.txt").read_text().strip()

FAKE_NODE = f"""#!/usr/bin/env bash
# A stand-in for node: its version, and the one -e script install-allure.sh runs.
if [[ "$1" == --version ]]; then echo "$FAKE_NODE_VERSION"; exit 0; fi
if [[ "$1" == -e ]]; then
    exec {sys.executable} -c 'import json, sys
sys.stdout.write(str(json.load(open(sys.argv[1])).get("version", "")))' "$3"
fi
exit 1
"""

FAKE_NPM = r"""#!/usr/bin/env bash
# A stand-in for npm: `npm install --prefix DIR ... allure@VERSION` writes a fake allure.
echo "$*" >>"$FAKE_GO_ROOT/npm.log"
[[ "$1" == prefix ]] && { echo /usr/local; exit 0; }
[[ "${FAKE_NPM_MODE:-ok}" == fail ]] && { echo "npm ERR! stand-in failure" >&2; exit 1; }
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[i]}" == --prefix ]] && prefix="${args[i + 1]}"
done
spec="${args[${#args[@]} - 1]}"
mkdir -p "$prefix/node_modules/allure" "$prefix/node_modules/.bin"
manifest="$prefix/node_modules/allure/package.json"
printf '{"name": "allure", "version": "%s"}\n' "${spec#allure@}" >"$manifest"
printf '#!/bin/sh\necho allure\n' >"$prefix/node_modules/.bin/allure"
chmod +x "$prefix/node_modules/.bin/allure"
"""


@pytest.fixture
def node_bench(bench: Bench) -> Bench:
    _write_executable(bench.root / "fakebin" / "node", FAKE_NODE)
    _write_executable(bench.root / "fakebin" / "npm", FAKE_NPM)
    bench.env["FAKE_NODE_VERSION"] = "v20.20.2"
    return bench


def npm_installs(bench: Bench) -> int:
    log = bench.root / "npm.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.startswith("install"))


@pytest.mark.parametrize("case", CACHE_CASES)
def test_allure_installs_from_nothing_then_is_already_installed(
    node_bench: Bench, tmp_path: Path, case: str
) -> None:
    extra, cwd, cache = cache_env(tmp_path, case)
    first = node_bench.run(ALLURE, extra, cwd)
    assert first.returncode == 0, first.stderr
    allure = cache / "npm" / f"allure-{ALLURE_VERSION}" / "node_modules" / ".bin" / "allure"
    assert first.stdout.strip() == str(allure)
    assert os.access(allure, os.X_OK)
    second = node_bench.run(ALLURE, extra, cwd)
    assert second.returncode == 0, second.stderr
    assert "already installed" in second.stderr
    assert npm_installs(node_bench) == 1


def test_a_failed_allure_install_leaves_nothing(node_bench: Bench, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    failed = node_bench.run(ALLURE, {"DRILLBOOK_CACHE": str(cache), "FAKE_NPM_MODE": "fail"})
    assert failed.returncode != 0
    assert sorted(p.name for p in (cache / "npm").iterdir()) == []
    again = node_bench.run(ALLURE, {"DRILLBOOK_CACHE": str(cache)})
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("version", ["v18.20.4", "v20.18.3", "v21.7.3"])
def test_allure_refuses_a_node_it_cannot_run_on_and_says_what_to_do(
    node_bench: Bench, tmp_path: Path, version: str
) -> None:
    result = node_bench.run(
        ALLURE, {"DRILLBOOK_CACHE": str(tmp_path / "cache"), "FAKE_NODE_VERSION": version}
    )
    assert result.returncode == 1
    assert (
        f"Node.js {version} at {node_bench.root / 'fakebin' / 'node'} cannot run allure"
        in result.stderr
    )
    assert "needs Node.js 20.19.0 or newer (20.19+ or 22+" in result.stderr
    assert "npm install -g node@22" in result.stderr
    assert npm_installs(node_bench) == 0


@pytest.mark.parametrize("version", ["v20.19.0", "v20.20.2", "v22.0.0", "v24.1.0"])
def test_allure_accepts_a_node_new_enough(node_bench: Bench, tmp_path: Path, version: str) -> None:
    result = node_bench.run(
        ALLURE, {"DRILLBOOK_CACHE": str(tmp_path / "cache"), "FAKE_NODE_VERSION": version}
    )
    assert result.returncode == 0, result.stderr
