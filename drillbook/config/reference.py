"""The configuration reference, generated from the declarations: docs/configuration.md.

    python -m drillbook.config.reference > docs/configuration.md

One section per TOML table, found by walking `DrillbookConfig`'s declared fields down through the
nested tables; each key's row (type / unit, default, what it is) comes from its field's
declaration, so the reference cannot drift from what the loader accepts.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Any

from drillbook.config.model import DrillbookConfig
from drillbook.config.schema import (
    MISSING,
    Declared,
    NamedTables,
    Table,
    TableArray,
    declared,
    is_secret_guarded,
)

__all__ = ["COMMAND", "TableDoc", "main", "render", "tables"]

COMMAND = "python -m drillbook.config.reference > docs/configuration.md"

_INTRO = f"""\
# Configuration reference

<!-- Generated from the declarations in drillbook/config/sections/ and drillbook/config/model.py
by `{COMMAND}`. Do not edit by hand: change the declaration, then regenerate. -->

This page is generated from the declarations on the configuration's dataclass fields
(`drillbook/config/sections/`, one module per table), which are also what the loader validates
with. Regenerate it with

```sh
{COMMAND}
```

`tests/unit/test_config_reference.py` fails while the page and the declarations differ.

A configuration is one TOML file, passed with `--drillbook-config FILE` (or to
`drillbook check-config FILE`). Without one, drillbook uses its embedded stack's configuration,
`drillbook/config/embedded.toml`: the layout to copy when writing a new file. Every key is
optional unless its default says "required"; an absent key takes the default shown. The file is
checked when it is loaded, and any problem stops the run before a fault is injected, with one
message that names the file, the key, the value found, what was expected and, where it helps,
how to fix it:

```text
drill.toml: key 'probing.interval': found 'fast', expected a duration such as '250ms', ...
```

- **Durations** are written as `"250ms"`, `"2s"`, `"15m"`, `"1h"` or `"1h30m"` (units h, m, s,
  ms, largest first), or as a number of seconds.
- **Overrides**: the command-line options and ini keys (`--drillbook-platform`,
  `--drillbook-probe-interval`, `--drillbook-healthy-streak`, `--drillbook-run-dir`,
  `--drillbook-reuse-stack`, `--drillbook-allow-production`) replace one key each, in the file's
  own units, and are checked the same way; their errors name `<overrides>` instead of the file.
  Booleans, integers and numbers may be given there as text.
- **Secrets** never go in the file: keys name the environment variables that hold them.
"""


@dataclass
class TableDoc:
    """One section of the reference: a table's headings, its model and the keys it declares."""

    headings: list[str]
    model: type[Any]
    name_doc: str = ""
    """For tables by name (`[target.components.<name>]`): what the name is."""
    entries: tuple[Declared, ...] = field(default=())


def tables() -> list[TableDoc]:
    """Every table of the file, top level first, then depth first in declaration order; a model
    used by several tables (probes and critical endpoints) is one section with several headings."""
    found: list[TableDoc] = []
    by_model: dict[type[Any], TableDoc] = {}

    def visit(heading: str, model: type[Any], prefix: str, name_doc: str = "") -> None:
        if model in by_model:
            by_model[model].headings.append(heading)
            return
        doc = TableDoc([heading], model, name_doc, declared(model))
        by_model[model] = doc
        found.append(doc)
        for entry in doc.entries:
            path = f"{prefix}.{entry.key}" if prefix else entry.key
            kind = entry.kind
            if isinstance(kind, Table):
                visit(f"[{path}]", kind.model, path)
            elif isinstance(kind, TableArray):
                visit(f"[[{path}]]", kind.model, path)
            elif isinstance(kind, NamedTables):
                visit(f"[{path}.<name>]", kind.model, f"{path}.<name>", kind.name_doc)

    visit("top level", DrillbookConfig, "")
    return found


def _heading(doc: TableDoc) -> str:
    return ", ".join("Top level" if h == "top level" else f"`{h}`" for h in doc.headings)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type(entry: Declared, path: str) -> str:
    kind = entry.kind
    if isinstance(kind, Table):
        return f"table `[{path}]`"
    if isinstance(kind, TableArray):
        return f"array of tables `[[{path}]]`"
    if isinstance(kind, NamedTables):
        return f"tables `[{path}.<name>]`"
    return kind.describe()


def _default(entry: Declared) -> str:
    if entry.setting.required is not None or entry.default is MISSING:
        return "required"
    if isinstance(entry.kind, Table | TableArray | NamedTables):
        return "—"
    return entry.kind.show_default(entry.default)


def _what(entry: Declared) -> str:
    text = entry.setting.doc
    if entry.kind.secret:
        text += " A value that is not a variable name is never echoed in errors."
    return text


def _path(doc: TableDoc) -> str:
    heading = doc.headings[0]
    return "" if heading == "top level" else heading.strip("[]")


def render() -> str:
    """The whole reference, as Markdown."""
    parts = [_INTRO]
    for doc in tables():
        parts.append(f"\n## {_heading(doc)}\n\n")
        intro = inspect.getdoc(doc.model) or ""
        parts.append(f"{intro}\n\n")
        if doc.name_doc:
            parts.append(f"`<name>`: {doc.name_doc}\n\n")
        if is_secret_guarded(doc.model):
            parts.append(
                "A key this table does not declare is refused without echoing its value, and "
                "one named like a secret (`secret`, `token`, `password`, ...) is told that "
                "secrets go in the environment.\n\n"
            )
        parts.append("| Key | Type / unit | Default | What it is |\n")
        parts.append("| --- | --- | --- | --- |\n")
        prefix = _path(doc)
        for entry in doc.entries:
            path = f"{prefix}.{entry.key}" if prefix else entry.key
            cells = (f"`{entry.key}`", _type(entry, path), _default(entry), _what(entry))
            parts.append("| " + " | ".join(_cell(cell) for cell in cells) + " |\n")
    return "".join(parts)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
