"""Conditions on a JSON response, written as one line of text: `checks.database == "ok"`.

A health endpoint that answers 200 while a dependency is down only tells the truth in its body, so
probes judge the JSON. The grammar is deliberately small, `<path> <op> <JSON literal>`, so that a
condition reads the same in a TOML file, a failure message and a report:

- path: dot-separated segments of letters, digits, `_` and `-`; on a list, a segment of digits is an
  index (`replicas.0.status`), on an object it is a key;
- op: `==`, `!=`, `in`, `not in`, `<`, `<=`, `>`, `>=`;
- value: a JSON literal (`"ok"`, `3`, `2.5`, `true`, `null`, `["ok", "degraded"]`).

Comparison follows JSON, not Python: `true` is not `1`, and ordering compares numbers only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from drillbook.errors import ConfigError

__all__ = ["CONDITION_OPS", "Condition", "ConditionOp", "parse_condition"]

ConditionOp = Literal["==", "!=", "in", "not in", "<", "<=", ">", ">="]
CONDITION_OPS: Final[tuple[ConditionOp, ...]] = get_args(ConditionOp)

_MISSING: Final = object()
_EXPLAIN_LIMIT = 200


@dataclass(frozen=True)
class Condition:
    """One check on a JSON document, parsed from text such as `checks.database == "ok"`."""

    path: tuple[str, ...]
    """The dotted JSON path, one segment per element; digit segments index lists."""
    op: ConditionOp
    """The comparison."""
    value: Any
    """The JSON literal on the right: a list for `in` / `not in`, a number for ordering ops."""
    source: str
    """The original text, quoted in messages and reports."""

    def evaluate(self, document: Any) -> bool:
        """True if the condition holds. A missing path, or a type that cannot compare, is False.

        Never raises: a probe must classify any answer, including one that is not the JSON it
        expected (e.g. an HTML error page from a proxy, passed here as None or a string).
        """
        found, _ = _resolve(document, self.path)
        if found is _MISSING:
            return False
        return _holds(self.op, found, self.value)

    def explain(self, document: Any) -> str:
        """What the document holds at the path, e.g. `checks.database == "ok": found "error"`."""
        found, reason = _resolve(document, self.path)
        if found is _MISSING:
            return f"{self.source}: missing ({reason})"
        return f"{self.source}: found {_render(found)}"


def parse_condition(text: str, *, key: str, source: str) -> Condition:
    """Parse `<path> <op> <JSON literal>`; raise ConfigError naming `source`, `key` and `text`."""
    if not isinstance(text, str):
        raise ConfigError(
            f"{source}: key '{key}': found {text!r}, expected a condition string such as "
            "'checks.database == \"ok\"'"
        )

    def fail(problem: str) -> ConfigError:
        return ConfigError(
            f"{source}: key '{key}': found {text!r}, expected a condition "
            f"'<path> <op> <JSON value>' such as 'checks.database == \"ok\"' "
            f"(ops: {', '.join(CONDITION_OPS)}): {problem}"
        )

    stripped = text.strip()
    path_match = _PATH.match(stripped)
    if path_match is None:
        raise fail("it must start with a JSON path such as 'status' or 'checks.database'")
    path_text = path_match.group(0)
    rest = stripped[path_match.end() :]

    op_match = _SYMBOL_OP.match(rest) or _WORD_OP.match(rest)
    if op_match is None:
        after = rest.strip()
        if after.startswith("=") and not after.startswith("=="):
            raise fail("'=' is not an operator, write '=='")
        if not after:
            raise fail(f"nothing follows the path '{path_text}'")
        raise fail(f"no operator after the path '{path_text}'")
    op = _normalise_op(op_match.group(1))
    value_text = rest[op_match.end() :].strip()
    if not value_text:
        raise fail(f"no value after '{op}'")

    try:
        value = json.loads(value_text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError):
        if value_text.startswith("'"):
            raise fail(
                f"{value_text} is not a JSON literal: JSON strings take double quotes, "
                "so write the whole condition in TOML single quotes: 'status == \"healthy\"'"
            ) from None
        raise fail(
            f'{value_text} is not a JSON literal (strings need double quotes: "ok"; '
            "numbers, true, false, null and [lists] are written bare)"
        ) from None

    if op in ("in", "not in") and not isinstance(value, list):
        raise fail(f'\'{op}\' needs a JSON list on the right, such as ["ok", "degraded"]')
    if op in ("<", "<=", ">", ">=") and not _is_number(value):
        raise fail(f"'{op}' compares numbers, and {value_text} is not a number")

    return Condition(path=tuple(path_text.split(".")), op=op, value=value, source=stripped)


_SEGMENT = r"[A-Za-z0-9_\-]+"
_PATH = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")
_SYMBOL_OP = re.compile(r"\s*(==|!=|<=|>=|<|>)")
# Word operators must stand apart from the path ("status in [...]"), never glued to it.
_WORD_OP = re.compile(r"\s+(not\s+in|in)(?![A-Za-z0-9_\-])")


def _normalise_op(text: str) -> ConditionOp:
    word = " ".join(text.split())
    for op in CONDITION_OPS:
        if op == word:
            return op
    raise AssertionError(f"operator regex matched {text!r}, which is not an operator")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _resolve(document: Any, path: tuple[str, ...]) -> tuple[Any, str]:
    """Walk `path`; return (value, "") or (_MISSING, why it is missing)."""
    current = document
    where = "the document"
    for depth, segment in enumerate(path):
        here = ".".join(path[: depth + 1])
        if isinstance(current, dict):
            if segment not in current:
                return _MISSING, f"no key '{segment}' in {where}"
            current = current[segment]
        elif isinstance(current, list):
            if not segment.isdigit():
                return _MISSING, f"{where} is a list and '{segment}' is not an index"
            index = int(segment)
            if index >= len(current):
                return _MISSING, f"{where} has {len(current)} element(s), no index {index}"
            current = current[index]
        else:
            return _MISSING, f"{where} is {_render(current)}, not an object or list"
        where = f"'{here}'"
    return current, ""


def _holds(op: ConditionOp, found: Any, expected: Any) -> bool:
    if op == "==":
        return _json_equal(found, expected)
    if op == "!=":
        return not _json_equal(found, expected)
    if op == "in":
        return any(_json_equal(found, item) for item in expected)
    if op == "not in":
        return not any(_json_equal(found, item) for item in expected)
    if not (_is_number(found) and _is_number(expected)):
        return False
    if op == "<":
        return bool(found < expected)
    if op == "<=":
        return bool(found <= expected)
    if op == ">":
        return bool(found > expected)
    return bool(found >= expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON means it: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) or _is_number(right):
        return _is_number(left) and _is_number(right) and bool(left == right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple | dict) or isinstance(right, list | tuple | dict):
        return False
    return bool(left == right)


def _render(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _EXPLAIN_LIMIT:
        text = text[: _EXPLAIN_LIMIT - 3] + "..."
    return text
