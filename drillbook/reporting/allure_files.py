"""Side files of an Allure results directory: environment, categories, and secret scrubbing.

allure-pytest writes one JSON file per test; the report also wants to know where the drill
ran (`environment.properties`) and how to sort failures (`categories.json`, so that an RTO
breach, an RPO breach and a broken drill land in separate buckets instead of one red
pile). `redact_results_dir` rewrites a results directory through the redactor, because the
results hold exception messages, step names and attachments that reporting code did not
write itself.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from drillbook.core.redaction import REDACTOR, Redactor

ENVIRONMENT_FILE: Final = "environment.properties"
CATEGORIES_FILE: Final = "categories.json"

DRILL_CATEGORIES: Final[Sequence[Mapping[str, Any]]] = (
    {
        # A defect of the service that [findings] fail_on makes fail the drill
        # (drillbook.core.findings); first, so a drill failed by a finding lands here.
        "name": "Finding",
        "description": "A defect of the service the drill showed (e.g. a replica killed at "
        "the end of its grace period), configured to fail the drill.",
        "messageRegex": r"^Finding \(.*",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "RTO breach",
        "description": "The service came back, but later than the recovery time objective.",
        "messageRegex": ".*RTO breach.*",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "RPO breach",
        "description": "More acknowledged data was lost than the recovery point objective allows.",
        "messageRegex": ".*RPO breach.*",
        "matchedStatuses": ["failed"],
    },
    {
        # The same bucket for a breach the drill expects (pytest.mark.xfail, e.g. the restore
        # from the daily dump alone): allure-pytest reports an xfailed test as "skipped" with
        # the message "XFAIL <reason>", a blank line, then the exception ("...DataLossDetected:
        # RPO breach: ..."). The breach must be in that exception, after the blank line, so a
        # genuine skip ("Skipped: <reason>") never lands here, nor an xfail whose reason merely
        # mentions a breach. Allure merges rules of one name into one category (Allure 2 groups
        # by name, Allure 3 appends the matchers of rules with the same id, which is the name).
        "name": "RPO breach",
        "description": "An RPO breach the drill expects (xfail): a finding of the plan, "
        "asserted by the drill, that fails the day it is no longer detected.",
        "messageRegex": r"^XFAIL[^\n]*\n\n[\s\S]*RPO breach[\s\S]*",
        "matchedStatuses": ["skipped"],
    },
    {
        "name": "Data integrity breach",
        "description": "The store holds an acknowledged write twice, or other than it was "
        "acknowledged, or its hash chain is broken.",
        "messageRegex": ".*Data integrity breach.*",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Recovery timeout",
        "description": "The service did not recover before the drill's deadline.",
        "messageRegex": ".*did not recover.*",
        "matchedStatuses": ["failed"],
    },
    {
        # DrillAborted is not an assertion, so allure-pytest reports it "broken"; its message
        # starts with the words the engine gives it (drillbook.engine.drill._raise_if_aborted).
        "name": "Aborted by a stop condition",
        "description": "A stop condition fired (an alarm, users' error rate past its bound, "
        "drillbook halt); the fault was undone at once. Neither passed nor failed.",
        "messageRegex": r"^(drillbook\.errors\.)?(DrillAborted: )?drill aborted by a stop "
        r"condition[\s\S]*",
        "matchedStatuses": ["broken"],
    },
    {
        # allure-pytest reports an exception raised outside an assertion as "broken": the
        # drill itself (fault injection, stack, probes) went wrong, not the system under test.
        "name": "Drill infrastructure error",
        "description": "The drill could not run as planned; the result says nothing about "
        "the recovery objectives.",
        "matchedStatuses": ["broken"],
    },
)
"""The categories drillbook sorts results into, in Allure 2's categories.json format (first
match wins). Allure Report 3 reads the same rules from its config file, not from the
results directory; `html_report.render_html_report` forwards them."""


def write_environment_properties(
    results_dir: Path, values: Mapping[str, str], *, redactor: Redactor | None = None
) -> Path:
    """Write `values` as `environment.properties` (Java properties format) into `results_dir`.

    Keys and values are redacted, then escaped the way `java.util.Properties.store` does
    (separators, comment markers, leading blanks, control and non-ASCII characters), so
    that Allure reads back exactly the strings given here.
    """
    red = redactor if redactor is not None else REDACTOR
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{_escape_property(red.redact(str(key)), is_key=True)}="
        f"{_escape_property(red.redact(str(value)), is_key=False)}"
        for key, value in values.items()
    ]
    path = results_dir / ENVIRONMENT_FILE
    # Pure ASCII thanks to \\uXXXX escapes, so the file reads the same as ISO-8859-1 (what
    # Java expects) and as UTF-8 (what Allure 3 assumes).
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii", newline="\n")
    return path


def write_categories(
    results_dir: Path, categories: Sequence[Mapping[str, Any]] = DRILL_CATEGORIES
) -> Path:
    """Write `categories.json` (default: `DRILL_CATEGORIES`) into `results_dir`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / CATEGORIES_FILE
    path.write_text(
        json.dumps([dict(c) for c in categories], indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return path


def read_categories(results_dir: Path) -> list[dict[str, Any]] | None:
    """The categories in `results_dir/categories.json`, or None when there is no such file."""
    path = results_dir / CATEGORIES_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
        raise ValueError(f"{path}: expected a JSON list of category objects")
    return data


def redact_results_dir(results_dir: Path, *, redactor: Redactor | None = None) -> int:
    """Rewrite every text file of an Allure results directory through the redactor.

    JSON files are decoded and re-encoded string by string, because a secret inside a JSON
    string may be spelled with escapes; other files are redacted as bytes when they are
    valid UTF-8 and left alone otherwise (screenshots: patching bytes would only corrupt
    them). Returns the number of files changed.
    """
    red = redactor if redactor is not None else REDACTOR
    if len(red) == 0:
        return 0
    changed = 0
    for path in sorted(p for p in results_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        new = _redact_file(path, data, red)
        if new != data:
            tmp = path.with_name(path.name + ".redacting")
            tmp.write_bytes(new)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
            changed += 1
    return changed


def copy_results_dir(source: Path, target: Path, *, redactor: Redactor | None = None) -> Path:
    """Copy a results directory to `target` (which must not exist), redacted."""
    shutil.copytree(source, target)
    redact_results_dir(target, redactor=redactor)
    return target


def _redact_file(path: Path, data: bytes, red: Redactor) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if path.suffix == ".json":
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            cleaned = _redact_json(parsed, red)
            if cleaned == parsed:
                return data
            return json.dumps(cleaned, ensure_ascii=False).encode("utf-8")
    return red.redact(text).encode("utf-8")


def _redact_json(value: Any, red: Redactor) -> Any:
    if isinstance(value, str):
        return red.redact(value)
    if isinstance(value, list):
        return [_redact_json(v, red) for v in value]
    if isinstance(value, dict):
        return {red.redact(k): _redact_json(v, red) for k, v in value.items()}
    return value


def _escape_property(text: str, *, is_key: bool) -> str:
    """Escape like java.util.Properties.saveConvert."""
    out: list[str] = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == " ":
            # Blanks separate key from value, and leading blanks of a value are skipped.
            out.append("\\ " if is_key or index == 0 else " ")
        elif char in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[char])
        elif char in "=:#!":
            out.append("\\" + char)
        elif code < 0x20 or code > 0x7E:
            # \\uXXXX holds one UTF-16 code unit: characters beyond the BMP take two.
            units = char.encode("utf-16-be")
            for i in range(0, len(units), 2):
                out.append(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04X}")
        else:
            out.append(char)
    return "".join(out)
