"""The stack's run directory: drillbook removes or re-permissions only what it created."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.errors import StackError
from drillbook.stack.run_dir import MARKER, give_back, take


def test_a_directory_drillbook_creates_is_removed_whole(tmp_path: Path) -> None:
    run_dir = tmp_path / "new" / "stack"
    take(run_dir)
    (run_dir / "pgdata").mkdir()
    give_back(run_dir)
    assert not run_dir.exists()
    assert (tmp_path / "new").is_dir()  # its parent was only made on the way


def test_an_empty_directory_given_is_emptied_and_given_back_its_mode(tmp_path: Path) -> None:
    run_dir = tmp_path / "mine"
    run_dir.mkdir(mode=0o750)
    run_dir.chmod(0o750)
    take(run_dir)
    assert run_dir.stat().st_mode & 0o777 == 0o711  # traversable by the postgres user
    (run_dir / "logs").mkdir()
    (run_dir / "supervisord.conf").write_text("x")
    give_back(run_dir)
    assert run_dir.is_dir() and list(run_dir.iterdir()) == []
    assert run_dir.stat().st_mode & 0o777 == 0o750


def test_a_directory_holding_other_files_is_refused_untouched(tmp_path: Path) -> None:
    run_dir = tmp_path / "home"
    run_dir.mkdir()
    (run_dir / "thesis.tex").write_text("years of work")
    mode = run_dir.stat().st_mode
    with pytest.raises(StackError, match="not empty and not a drillbook stack's"):
        take(run_dir)
    assert (run_dir / "thesis.tex").read_text() == "years of work"
    assert run_dir.stat().st_mode == mode
    give_back(run_dir)  # no marker: nothing is touched
    assert (run_dir / "thesis.tex").exists()


def test_an_earlier_stacks_directory_is_taken_again(tmp_path: Path) -> None:
    run_dir = tmp_path / "stack"
    take(run_dir)
    (run_dir / "pgdata").mkdir()
    take(run_dir)  # a reused stack, or one whose runner died
    assert (run_dir / MARKER).exists() and (run_dir / "pgdata").is_dir()
