"""environment.properties, categories.json and results scrubbing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from drillbook.core.redaction import PLACEHOLDER, Redactor
from drillbook.reporting.allure_files import (
    DRILL_CATEGORIES,
    read_categories,
    redact_results_dir,
    write_categories,
    write_environment_properties,
)


def parse_properties(text: str) -> dict[str, str]:
    """A reader following java.util.Properties.load, for the subset the writer produces."""
    result: dict[str, str] = {}
    escapes = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
    for line in text.splitlines():
        if not line or line[0] in "#!":
            continue
        key: list[str] = []
        value: list[str] = []
        target, i, in_key = key, 0, True
        while i < len(line):
            char = line[i]
            if char == "\\":
                nxt = line[i + 1]
                if nxt == "u":
                    target.append(chr(int(line[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                target.append(escapes.get(nxt, nxt))
                i += 2
                continue
            if in_key and char in "=: ":
                in_key, target = False, value
                i += 1
                continue
            target.append(char)
            i += 1
        # Surrogate pairs come in as two \\u escapes; join them the way Java strings do.
        decode = "".join
        result[decode(key).encode("utf-16", "surrogatepass").decode("utf-16")] = (
            decode(value).encode("utf-16", "surrogatepass").decode("utf-16")
        )
    return result


def test_environment_properties_round_trip(tmp_path: Path) -> None:
    values = {
        "platform": "local",
        "target url": "http://127.0.0.1:8080/health?a=b",
        "key=with:separators#!": "value = with : separators # !",
        "multi": "line one\nline two\ttabbed\r",
        "leading": "  two leading blanks",
        "backslash": "C:\\drills\\run",
        "unicode": "Zürich \u2013 東京 ✓ 🚒",
        "empty": "",
    }
    path = write_environment_properties(tmp_path / "allure-results", values)
    assert path == tmp_path / "allure-results" / "environment.properties"
    raw = path.read_bytes()
    assert raw.isascii(), "non-ASCII must be \\u-escaped (Java reads ISO-8859-1)"
    assert parse_properties(raw.decode("ascii")) == values


def test_environment_properties_escaping_spelled_out(tmp_path: Path) -> None:
    path = write_environment_properties(tmp_path, {"a key": " v=1:2", "k": "ü\n", "fire": "🚒"})
    assert path.read_text(encoding="ascii").splitlines() == [
        r"a\ key=\ v\=1\:2",
        r"k=\u00FC\n",
        r"fire=\uD83D\uDE92",
    ]


def test_environment_values_are_redacted(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add("hunter22")
    path = write_environment_properties(
        tmp_path, {"dsn": "postgres://app:hunter22@db/app"}, redactor=redactor
    )
    text = path.read_text(encoding="ascii")
    assert "hunter22" not in text
    assert parse_properties(text) == {"dsn": f"postgres://app:{PLACEHOLDER}@db/app"}


def test_categories_json(tmp_path: Path) -> None:
    path = write_categories(tmp_path / "results")
    data = json.loads(path.read_text(encoding="utf-8"))
    # Two rules make the "RPO breach" category: failed drills, and expected (xfailed) breaches,
    # which Allure calls skipped (tests/unit/test_allure_categories.py).
    assert [c["name"] for c in data] == [
        "Finding",
        "RTO breach",
        "RPO breach",
        "RPO breach",
        "Data integrity breach",
        "Recovery timeout",
        "Aborted by a stop condition",
        "Drill infrastructure error",
    ]
    by_name = {c["name"]: c for c in data if c.get("matchedStatuses") != ["skipped"]}
    assert by_name["RTO breach"]["messageRegex"] == ".*RTO breach.*"
    assert by_name["RTO breach"]["matchedStatuses"] == ["failed"]
    assert by_name["RPO breach"]["messageRegex"] == ".*RPO breach.*"
    assert by_name["RPO breach"]["matchedStatuses"] == ["failed"]
    (expected_breach,) = [c for c in data if c.get("matchedStatuses") == ["skipped"]]
    assert expected_breach["name"] == "RPO breach"
    assert expected_breach["messageRegex"].startswith("^XFAIL")
    assert by_name["Recovery timeout"]["messageRegex"] == ".*did not recover.*"
    assert by_name["Recovery timeout"]["matchedStatuses"] == ["failed"]
    assert by_name["Drill infrastructure error"]["matchedStatuses"] == ["broken"]
    assert "messageRegex" not in by_name["Drill infrastructure error"]
    assert read_categories(tmp_path / "results") == data
    assert len(data) == len(DRILL_CATEGORIES)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("AssertionError: RTO breach: 12.4 s > objective 10.0 s", "RTO breach"),
        ("AssertionError: RPO breach: 3 writes lost", "RPO breach"),
        ("RecoveryTimeout: the target did not recover within 60 s", "Recovery timeout"),
    ],
)
def test_category_regexes_match_drill_messages(message: str, expected: str) -> None:
    matching = [
        c["name"]
        for c in DRILL_CATEGORIES
        if "messageRegex" in c and re.fullmatch(c["messageRegex"], message)
    ]
    assert matching == [expected]


def test_read_categories_absent_and_malformed(tmp_path: Path) -> None:
    assert read_categories(tmp_path) is None
    (tmp_path / "categories.json").write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match="list of category objects"):
        read_categories(tmp_path)


def test_redact_results_dir(tmp_path: Path) -> None:
    redactor = Redactor()
    secret = 'tok"en-ü-1234'
    redactor.add(secret)
    result = {
        "name": "test_drill",
        "steps": [{"name": f"inject: login with {secret}"}],
        "parameters": [{"name": "token", "value": repr(secret)}],
    }
    (tmp_path / "a-result.json").write_text(json.dumps(result), encoding="utf-8")
    (tmp_path / "b-attachment.txt").write_text(f"log: {secret}\n", encoding="utf-8")
    (tmp_path / "c-attachment.png").write_bytes(b"\x89PNG\xff" + secret.encode())
    (tmp_path / "d-attachment.txt").write_text("nothing to hide", encoding="utf-8")

    assert redact_results_dir(tmp_path, redactor=redactor) == 2
    cleaned = json.loads((tmp_path / "a-result.json").read_text(encoding="utf-8"))
    assert cleaned["steps"][0]["name"] == f"inject: login with {PLACEHOLDER}"
    assert secret not in json.dumps(cleaned, ensure_ascii=False)
    assert (tmp_path / "b-attachment.txt").read_text(encoding="utf-8") == f"log: {PLACEHOLDER}\n"
    # Not UTF-8: left alone rather than corrupted.
    assert (tmp_path / "c-attachment.png").read_bytes().startswith(b"\x89PNG")
    assert not list(tmp_path.glob("*.redacting"))


def test_redact_results_dir_without_secrets_touches_nothing(tmp_path: Path) -> None:
    (tmp_path / "a-result.json").write_text("{ }", encoding="utf-8")
    assert redact_results_dir(tmp_path, redactor=Redactor()) == 0
    assert (tmp_path / "a-result.json").read_text(encoding="utf-8") == "{ }"
