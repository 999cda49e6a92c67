"""The configuration reference (docs/configuration.md) is generated from the declarations, and
the declarations are exactly what the loader accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drillbook.config import EMBEDDED_SOURCE, DrillbookConfig, load_config
from drillbook.config.reference import COMMAND, TableDoc, render, tables
from drillbook.config.schema import keys
from drillbook.errors import ConfigError
from tests.unit.config_cases import PROBE

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "docs" / "configuration.md"
UNKNOWN = "zz_not_a_key"


def _file_with_unknown_key(doc: TableDoc) -> tuple[str, str]:
    """A file whose only mistake is an unknown key in `doc`'s table, and that table's prefix."""
    heading = doc.headings[0]
    if heading == "top level":
        return f"{UNKNOWN} = 1\n{PROBE}", ""
    if heading == "[[target.probes]]":
        return f'[[target.probes]]\nname = "health"\npath = "/health"\n{UNKNOWN} = 1\n', (
            "target.probes[0]"
        )
    if heading == "[[stop.alarms]]":
        return f'{PROBE}\n[[stop.alarms]]\nurl = "http://127.0.0.1:9"\n{UNKNOWN} = 1\n', (
            "stop.alarms[0]"
        )
    if heading == "[[allow.contexts]]":
        return f'{PROBE}\n[[allow.contexts]]\nname = "kind-x"\n{UNKNOWN} = 1\n', (
            "allow.contexts[0]"
        )
    if heading == "[[notify.ladder]]":
        return f'{PROBE}\n[[notify.ladder]]\nemail = ["a@example.com"]\n{UNKNOWN} = 1\n', (
            "notify.ladder[0]"
        )
    table = heading.strip("[]")
    if table == "notify.webhooks.<name>":
        return f'{PROBE}\n[notify.webhooks.oncall]\nurl = "http://127.0.0.1:9"\n{UNKNOWN} = 1\n', (
            "notify.webhooks.oncall"
        )
    if table == "target.components.<name>":
        return f'{PROBE}\n[target.components.app]\nrole = "app"\n{UNKNOWN} = 1\n', (
            "target.components.app"
        )
    return f"{PROBE}\n[{table}]\n{UNKNOWN} = 1\n", table


def test_the_reference_is_the_generators_output() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is out of date with the declarations; regenerate it: {COMMAND}"
    )


@pytest.mark.parametrize("doc", tables(), ids=lambda doc: doc.headings[0])
def test_every_key_the_loader_accepts_is_in_the_reference(tmp_path: Path, doc: TableDoc) -> None:
    text, prefix = _file_with_unknown_key(doc)
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    # What the loader accepts in this table, as its own error message lists it ...
    key = f"{prefix}.{UNKNOWN}" if prefix else UNKNOWN
    match = re.search(r", expected one of (.*?)(?: in \[.*\]| at the top)(?:;|$)", str(info.value))
    assert str(info.value).startswith(f"{path}: key '{key}': found unknown key"), info.value
    assert match is not None, info.value
    accepted = tuple(match[1].split(", "))
    # ... is what the table declares, and each of those keys has its row in the reference.
    assert accepted == keys(doc.model) == tuple(entry.key for entry in doc.entries)
    section = _section(render(), doc)
    for accepted_key in accepted:
        assert f"\n| `{accepted_key}` | " in section, f"{accepted_key} missing from {doc.headings}"


def _section(reference: str, doc: TableDoc) -> str:
    heading = "Top level" if doc.headings[0] == "top level" else f"`{doc.headings[0]}`"
    start = reference.index(f"\n## {heading}")
    end = reference.find("\n## ", start + 1)
    return reference[start : end if end != -1 else None]


def test_the_reference_walks_every_table() -> None:
    headings = [heading for doc in tables() for heading in doc.headings]
    assert headings == [
        "top level",
        "[allow]",
        "[[allow.contexts]]",
        "[objectives]",
        "[probing]",
        "[target]",
        "[[target.probes]]",
        "[[target.critical_endpoints]]",
        "[target.auth]",
        "[target.components.<name>]",
        "[stack]",
        "[stack.app]",
        "[findings]",
        "[sites]",
        "[stop]",
        "[[stop.alarms]]",
        "[verification]",
        "[cache]",
        "[load]",
        "[kubernetes]",
        "[docker]",
        "[ledger]",
        "[backup]",
        "[secrets]",
        "[secrets.vault]",
        "[secrets.aws]",
        "[secrets.kubernetes]",
        "[history]",
        "[schedule]",
        "[notify]",
        "[notify.webhooks.<name>]",
        "[notify.smtp]",
        "[[notify.ladder]]",
    ]
    for doc in tables():
        for entry in doc.entries:
            assert entry.setting.doc.strip(), f"{doc.headings[0]} {entry.key} has no doc"


def test_the_embedded_configuration_loads() -> None:
    config = load_config()
    assert isinstance(config, DrillbookConfig)
    assert config.source == EMBEDDED_SOURCE
