"""The virtualenv holds exactly the versions pinned in requirements/lock.txt.

scripts/setup.sh installs with the lock as constraints, so a fresh .venv gets those versions;
scripts/update-lock.sh renews the lock (the newest versions the ranges in pyproject.toml allow).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "lock.txt"
RENEW = "bash scripts/update-lock.sh (then bash scripts/test.sh)"
REINSTALL = "rm -rf .venv && bash scripts/setup.sh"
PROJECT = "drillbook"
"""Installed editable from this checkout: never in the lock."""


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str, source: str) -> dict[str, str]:
    """`name==version` lines (comments and blank lines skipped) as {canonical name: version}."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{source}:{number}: expected NAME==VERSION, found {raw!r}"
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def differences(installed: dict[str, str], locked: dict[str, str]) -> list[str]:
    """One line per package whose version differs, or that is only on one side."""
    problems: list[str] = []
    for name in sorted(locked.keys() | installed.keys()):
        want, have = locked.get(name), installed.get(name)
        if want == have:
            continue
        if have is None:
            problems.append(f"missing: {name}=={want} is in the lock but not installed")
        elif want is None:
            problems.append(f"extra: {name}=={have} is installed but not in the lock")
        else:
            problems.append(f"differs: {name} is {have}, the lock says {want}")
    return problems


def installed_pins() -> dict[str, str]:
    """`pip freeze` of the running interpreter's environment, plus pip itself."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "freeze",
            "--exclude-editable",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"pip freeze failed: {result.stderr.strip()}"
    pins = parse_pins(result.stdout, "pip freeze")
    pins.pop(PROJECT, None)
    pins["pip"] = metadata.version("pip")
    return pins


def test_the_lock_parses_and_pins_pip() -> None:
    locked = parse_pins(LOCK.read_text(encoding="utf-8"), str(LOCK))
    assert "pip" in locked, f"{LOCK} pins no pip version; renew it: {RENEW}"
    assert PROJECT not in locked, f"{LOCK} pins {PROJECT} itself; renew it: {RENEW}"
    assert len(locked) > 20


def test_the_differences_name_each_package() -> None:
    problems = differences(
        {"a": "1.0", "b": "2.0", "c": "3.0"}, {"a": "1.0", "b": "2.1", "d": "4.0"}
    )
    assert problems == [
        "differs: b is 2.0, the lock says 2.1",
        "extra: c==3.0 is installed but not in the lock",
        "missing: d==4.0 is in the lock but not installed",
    ]
    assert parse_pins("Foo_Bar.baz==1.2  # why\n\n# note\nx[extra]==2\n", "t") == {
        "foo-bar-baz": "1.2",
        "x": "2",
    }


def test_the_environment_holds_exactly_the_locked_versions() -> None:
    if sys.prefix == sys.base_prefix:
        pytest.skip(
            f"not running inside a virtualenv (sys.prefix == sys.base_prefix == {sys.prefix}): "
            "the lock describes the .venv that scripts/setup.sh makes"
        )
    problems = differences(
        installed_pins(), parse_pins(LOCK.read_text(encoding="utf-8"), str(LOCK))
    )
    assert not problems, (
        f"{sys.prefix} differs from {LOCK.relative_to(REPO)}:\n  "
        + "\n  ".join(problems)
        + f"\nRecreate it with the locked versions: {REINSTALL}; or, after changing the "
        f"dependencies in pyproject.toml, renew the lock: {RENEW}"
    )
