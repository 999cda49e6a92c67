"""Conditions on JSON answers: parsing, evaluation, explanations and syntax errors."""

from __future__ import annotations

from typing import Any

import pytest

from drillbook.config import CONDITION_OPS, Condition, parse_condition
from drillbook.errors import ConfigError

HEALTH: dict[str, Any] = {
    "status": "degraded",
    "version": "8.0.0",
    "checks": {"api": "ok", "database": "error", "cache": "ok", "resources": {"cpu": 0.42}},
    "replicas": [{"name": "a", "ready": True}, {"name": "b", "ready": False}],
    "latency_ms": 120,
    "error_rate": 0.02,
    "maintenance": None,
}


def cond(text: str) -> Condition:
    return parse_condition(text, key="target.probes[0].conditions[0]", source="drill.toml")


# --- parsing ----------------------------------------------------------------------------------


def test_parse_splits_path_op_and_value() -> None:
    condition = cond('checks.database == "ok"')

    assert condition == Condition(
        path=("checks", "database"), op="==", value="ok", source='checks.database == "ok"'
    )


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ('status=="healthy"', "==", "healthy"),
        ('status != "unhealthy"', "!=", "unhealthy"),
        ('status in ["healthy", "degraded"]', "in", ["healthy", "degraded"]),
        ('status not   in ["unhealthy"]', "not in", ["unhealthy"]),
        ("latency_ms < 500", "<", 500),
        ("latency_ms <= 500", "<=", 500),
        ("error_rate > 0.5", ">", 0.5),
        ("error_rate >= -1", ">=", -1),
        ("maintenance == null", "==", None),
        ("replicas.0.ready == true", "==", True),
    ],
)
def test_parse_every_operator(text: str, op: str, value: object) -> None:
    condition = cond(f"  {text} ")
    assert (condition.op, condition.value) == (op, value)
    assert condition.source == text


def test_every_operator_is_known() -> None:
    assert CONDITION_OPS == ("==", "!=", "in", "not in", "<", "<=", ">", ">=")


def test_path_segments_may_hold_dashes_and_digits() -> None:
    assert cond('x-request.id_2.0 == "a"').path == ("x-request", "id_2", "0")


# --- evaluation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ('status == "degraded"', True),
        ('status == "healthy"', False),
        ('checks.api == "ok"', True),
        ('checks.database == "ok"', False),
        ("checks.resources.cpu < 0.5", True),
        ('replicas.0.name == "a"', True),
        ("replicas.1.ready == false", True),
        ("replicas.1.ready == true", False),
        ('status in ["healthy", "degraded"]', True),
        ('status in ["healthy"]', False),
        ('status not in ["unhealthy"]', True),
        ('status not in ["degraded"]', False),
        ("latency_ms < 500", True),
        ("latency_ms <= 120", True),
        ("latency_ms > 120", False),
        ("latency_ms >= 120.0", True),
        ("error_rate < 0.05", True),
        ("maintenance == null", True),
        ('status != "unhealthy"', True),
        ("latency_ms == 120.0", True),
    ],
)
def test_evaluate(text: str, holds: bool) -> None:
    assert cond(text).evaluate(HEALTH) is holds


@pytest.mark.parametrize(
    "text",
    [
        'checks.redis == "ok"',  # missing key
        'checks.redis != "ok"',  # missing is false for every operator, even negations
        'checks.redis not in ["ok"]',
        'replicas.5.name == "a"',  # index out of range
        'replicas.first.name == "a"',  # a word is not an index
        'status.code == "x"',  # path through a string
        'version.0 == "8"',
    ],
)
def test_missing_path_is_false(text: str) -> None:
    assert cond(text).evaluate(HEALTH) is False


@pytest.mark.parametrize("document", [None, "<html>502 Bad Gateway</html>", 42, [], {}])
def test_documents_that_are_not_the_expected_json_never_raise(document: object) -> None:
    assert cond('checks.database == "ok"').evaluate(document) is False


def test_list_document_is_indexed_from_the_root() -> None:
    assert cond('0.status == "ok"').evaluate([{"status": "ok"}]) is True


@pytest.mark.parametrize(
    ("text", "found", "holds"),
    [
        ("flag == 1", True, False),  # JSON true is not the number 1
        ("flag == true", 1, False),
        ('flag == "1"', 1, False),
        ("flag == 1", 1.0, True),
        ("flag in [1, 2]", True, False),
        ("flag > 0", True, False),  # ordering compares numbers only
        ("flag < 10", "5", False),
        ("flag >= 0", None, False),
        ("flag == [1, 2]", [1, 2], True),
        ('flag == {"a": 1}', {"a": 1}, True),
        ('flag == {"a": 1}', {"a": True}, False),
        ("flag == null", None, True),
        ("flag != null", 0, True),
    ],
)
def test_comparison_follows_json(text: str, found: object, holds: bool) -> None:
    assert cond(text).evaluate({"flag": found}) is holds


# --- explanations -----------------------------------------------------------------------------


def test_explain_shows_what_was_found() -> None:
    explanation = cond('checks.database == "ok"').explain(HEALTH)
    assert explanation == 'checks.database == "ok": found "error"'


def test_explain_says_where_the_path_stops() -> None:
    assert cond('checks.redis == "ok"').explain(HEALTH) == (
        "checks.redis == \"ok\": missing (no key 'redis' in 'checks')"
    )
    assert cond('replicas.7.name == "a"').explain(HEALTH) == (
        "replicas.7.name == \"a\": missing ('replicas' has 2 element(s), no index 7)"
    )
    assert cond("status.code == 1").explain(HEALTH) == (
        "status.code == 1: missing ('status' is \"degraded\", not an object or list)"
    )
    assert (
        cond("status == 1").explain(None)
        == "status == 1: missing (the document is null, not an object or list)"
    )


def test_explain_shortens_long_values() -> None:
    explanation = cond('body == "x"').explain({"body": "y" * 1000})
    assert len(explanation) < 300
    assert explanation.endswith("...")


# --- syntax errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('checks.database = "ok"', "'=' is not an operator, write '=='"),
        ("status", "nothing follows the path 'status'"),
        ('== "ok"', "it must start with a JSON path"),
        ('.status == "ok"', "it must start with a JSON path"),
        ('status ~ "ok"', "no operator after the path 'status'"),
        ('statusin ["ok"]', "no operator after the path 'statusin'"),
        ("status ==", "no value after '=='"),
        ("status == 'ok'", "JSON strings take double quotes"),
        ("status == healthy", "healthy is not a JSON literal"),
        ('status == "ok" extra', "is not a JSON literal"),
        ("n == NaN", "NaN is not a JSON literal"),
        ('status in "healthy"', "'in' needs a JSON list"),
        ("status not in 3", "'not in' needs a JSON list"),
        ('n < "5"', "'<' compares numbers"),
        ("n >= true", "'>=' compares numbers"),
        ("", "it must start with a JSON path"),
    ],
)
def test_bad_syntax(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        cond(text)
    message = str(info.value)
    assert message.startswith(
        f"drill.toml: key 'target.probes[0].conditions[0]': found {text!r}, expected a condition"
    )
    assert "such as 'checks.database == \"ok\"'" in message
    assert problem in message


def test_condition_must_be_text() -> None:
    with pytest.raises(ConfigError, match="found 42, expected a condition string"):
        parse_condition(42, key="k", source="f")  # type: ignore[arg-type]
