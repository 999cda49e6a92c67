"""Finding the programs drillbook runs: PATH, then the sbin directories, else how to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.errors import MissingDependency
from drillbook.stack import binaries
from drillbook.stack.binaries import require_binary


def _program(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("name", "install"),
    [
        ("runuser", "apt-get install util-linux"),
        ("haproxy", "apt-get install haproxy"),
        ("redis-sentinel", "apt-get install redis-sentinel"),
        ("redis-server", "apt-get install redis-server"),
        ("pg_dump", "apt-get install postgresql"),
        ("pg_restore", "apt-get install postgresql"),
        ("pg_ctl", "apt-get install postgresql"),
        ("psql", "apt-get install postgresql"),
        ("chromium", "apt-get install chromium"),
    ],
)
def test_a_missing_program_names_itself_the_places_looked_and_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, install: str
) -> None:
    empty_path = tmp_path / "path"
    empty_path.mkdir()
    sbin = [tmp_path / "usr-local-sbin", tmp_path / "usr-sbin", tmp_path / "sbin"]
    monkeypatch.setenv("PATH", str(empty_path))
    with pytest.raises(MissingDependency) as caught:
        require_binary(name, sbin_dirs=sbin)
    message = str(caught.value)
    assert f"'{name}' not found" in message
    assert f"PATH={empty_path}" in message
    for directory in sbin:
        assert str(directory) in message
    assert install in message


def test_the_default_places_are_path_then_the_sbin_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependency) as caught:
        require_binary("drillbook-no-such-program")
    message = str(caught.value)
    assert f"looked in PATH={tmp_path}, /usr/local/sbin, /usr/sbin, /sbin" in message
    assert "install the package that provides 'drillbook-no-such-program'" in message


def test_a_program_off_path_is_found_in_an_sbin_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    (tmp_path / "path").mkdir()
    found = _program(tmp_path / "usr-sbin", "runuser")
    sbin = [tmp_path / "usr-local-sbin", tmp_path / "usr-sbin", tmp_path / "sbin"]
    assert require_binary("runuser", sbin_dirs=sbin) == found


def test_the_default_sbin_list_is_the_one_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _program(tmp_path / "fake-sbin", "haproxy")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(binaries, "SBIN_DIRS", (str(tmp_path / "fake-sbin"),))
    assert require_binary("haproxy") == found


def test_path_comes_before_sbin_and_first_before_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _program(tmp_path / "path", "pg_dump")
    in_sbin = _program(tmp_path / "sbin", "pg_dump")
    beside = _program(tmp_path / "pg-bin", "pg_dump")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    assert require_binary("pg_dump", sbin_dirs=[tmp_path / "sbin"]) == on_path
    assert (
        require_binary("pg_dump", first=[tmp_path / "pg-bin"], sbin_dirs=[tmp_path / "sbin"])
        == beside
    )
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    assert require_binary("pg_dump", sbin_dirs=[tmp_path / "sbin"]) == in_sbin


def test_a_file_that_is_not_executable_is_not_a_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "sbin" / "haproxy"
    plain.parent.mkdir()
    plain.write_text("not a program\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(MissingDependency, match="apt-get install haproxy"):
        require_binary("haproxy", sbin_dirs=[tmp_path / "sbin"])


def test_the_found_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # supervisord program commands and runuser prefixes are written with absolute paths.
    _program(tmp_path / "bin", "redis-sentinel")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "bin")
    found = require_binary("redis-sentinel", sbin_dirs=[])
    assert found.is_absolute()
    assert found == tmp_path / "bin" / "redis-sentinel"


def test_the_postgres_cluster_commands_use_the_located_runuser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drillbook.backup import cluster

    runuser = _program(tmp_path / "sbin", "runuser")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(binaries, "SBIN_DIRS", (str(tmp_path / "sbin"),))
    monkeypatch.setattr(cluster, "server_user", lambda: "postgres")
    assert cluster.as_server_user(["pg_ctl", "stop"]) == [
        str(runuser),
        "-u",
        "postgres",
        "--",
        "pg_ctl",
        "stop",
    ]
    monkeypatch.setattr(binaries, "SBIN_DIRS", ())
    with pytest.raises(MissingDependency, match="apt-get install util-linux"):
        cluster.as_server_user(["pg_ctl", "stop"])
