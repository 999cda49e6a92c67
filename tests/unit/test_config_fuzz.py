"""A fuzzed corpus of malformed and dangerous configurations: each is refused with one
ConfigError that names the file (or accepted), never a traceback of another kind.

The corpus is generated from the embedded configuration, seeded so a failure can be replayed:
every `key = value` line gets hostile values (numbers past any float, durations that parse to
infinity, wrong types, nested arrays, very long strings, control characters, credentials in
URLs), and whole files are broken (truncated, nested 100,000 deep, binary, duplicated tables).
The counts by outcome are printed.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from drillbook.config import load_config
from drillbook.config.loader import _read_embedded
from drillbook.errors import ConfigError

SEED = 20261206
CASES = 600
PLANTED_PASSWORD = "s3cr3t-in-url"

HOSTILE_VALUES = (
    "1" + "0" * 400,
    "-" + "9" * 30,
    '"' + "9" * 400 + 's"',
    '"' + "9" * 40 + 'h"',
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "0",
    "-1",
    str(2**63),
    str(-(2**63) - 1),
    "true",
    '"true"',
    "0.0000001",
    '"1ms"',
    '"0s"',
    '"-5s"',
    '""',
    '"   "',
    '"' + "x" * 100_000 + '"',
    '"\\u0000\\u0007"',
    '"é\\u202e⁦"',
    "[]",
    "[[], [[]]]",
    "[" * 200 + "]" * 200,
    "{}",
    "{ a = { b = { c = 1 } } }",
    '["a", 1, true]',
    '"0.0.0.0"',
    '"/"',
    '"/tmp"',
    f'"http://drill:{PLANTED_PASSWORD}@127.0.0.1:8080/"',
    '"kube-system"',
    '"production"',
    '"prod-eu"',
    "1979-05-27T07:32:00Z",
)

BROKEN_FILES = (
    "a = " + "[" * 100_000 + "]" * 100_000,
    "a = " + "{ b = " * 5_000 + "1" + " }" * 5_000,
    "\x00\x01\x02\xff",
    "[objectives]\n[objectives]\n",
    "[[target]]\n",
    "platform = 'local'\n[probing\n",
    "platform = \n",
    "= 1\n",
    'platform = "local"\nplatform = "local"\n',
    "[target.probes]\nname = 1\n",
)

_ASSIGNMENT = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*) = (?P<value>.*)$")


def _corpus() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    base = _read_embedded()
    lines = base.splitlines()
    assignments = [i for i, line in enumerate(lines) if _ASSIGNMENT.match(line)]
    cases: list[tuple[str, str]] = []
    for number in range(CASES - len(BROKEN_FILES) - 20):
        mutated = list(lines)
        for index in rng.sample(assignments, k=1 + (number % 3)):
            match = _ASSIGNMENT.match(mutated[index])
            assert match is not None
            mutated[index] = f"{match['key']} = {rng.choice(HOSTILE_VALUES)}"
        cases.append((f"mutated-{number}", "\n".join(mutated) + "\n"))
    for number, text in enumerate(BROKEN_FILES):
        cases.append((f"broken-{number}", text))
    for number in range(20):
        cut = rng.randrange(1, len(base))
        cases.append((f"truncated-{number}", base[:cut]))
    return cases


def test_no_malformed_configuration_gives_a_traceback(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    for name, text in _corpus():
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            load_config(path)
        except ConfigError as exc:
            message = str(exc)
            outcomes["refused (ConfigError)"] += 1
            if str(path) not in message and "<" not in message:
                unexpected.append(f"{name}: the message does not name the file: {message[:200]}")
            if PLANTED_PASSWORD in message:
                unexpected.append(f"{name}: the message shows the URL's password")
            if len(message) > 4000:
                unexpected.append(f"{name}: a message of {len(message)} characters")
        except Exception as exc:  # the point of the test: nothing else may escape
            outcomes[f"TRACEBACK ({type(exc).__name__})"] += 1
            unexpected.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            outcomes["accepted"] += 1
    total = sum(outcomes.values())
    print(
        f"\nfuzzed configurations: {total}; " + ", ".join(f"{k}: {v}" for k, v in outcomes.items())
    )
    assert total >= 500
    assert not unexpected, "\n".join(unexpected[:40])


@pytest.mark.parametrize(
    "value",
    ["1" + "0" * 400, '"' + "9" * 400 + 's"', '"' + "9" * 40 + 'h"'],
    ids=["integer past any float", "duration digits to infinity", "duration past a year"],
)
def test_an_rto_past_any_bound_is_refused(tmp_path: Path, value: str) -> None:
    text = _read_embedded().replace('rto_critical = "15m"', f"rto_critical = {value}")
    path = tmp_path / "rto.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"objectives\.rto_critical"):
        load_config(path)
