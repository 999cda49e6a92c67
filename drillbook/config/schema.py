"""The declarative layer: what a configuration key is, declared once on its dataclass field.

**Why declared dataclasses, not pydantic.** The configuration's runtime types are the frozen
dataclasses of the sections (`drillbook.config.model` re-exports them all): the code and the tests
use them with `dataclasses.replace`, attribute access and equality, so they stay what they are.
Each field carries its TOML key, its kind and its documentation as dataclass field metadata, and
this module turns those declarations into the validation and the reference
(`python -m drillbook.config.reference`). pydantic would bring a second model (or rebuild these
ones on its base class) and a dependency: the plain install of the library is going to drop
FastAPI, which is what brings pydantic today. A small layer also keeps every error message exactly
as drillbook has always written it: `<file>: key '<dotted.key>': found <value>, expected <what>;
<how to fix it>`.

A section module declares its dataclass like this:

```python
@dataclass(frozen=True)
class CacheSettings:
    failover_timeout_seconds: float = field(
        default=30.0,
        metadata=setting(
            Duration(positive="a duration longer than 0"),
            "How long the Sentinels may take to agree on a new master.",
            key="failover_timeout",
        ),
    )
```

and builds it with `build(context, "cache", table, CacheSettings)`: the keys the table may hold are
the declared fields' keys (an unknown one is refused with a "did you mean" suggestion), each key
present is parsed by its kind, absent keys take the dataclass default, and the section adds its
cross-field rules on the result. The generic value helpers (`integer`, `duration`, `text`, ...)
are the ones every kind and every section's own rules use, so all errors read alike.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit

from drillbook.config.credentials import hide_credentials
from drillbook.config.durations import format_duration, parse_duration
from drillbook.errors import ConfigError

__all__ = [
    "ENV_VAR",
    "MISSING",
    "NAME",
    "OVERRIDES_SOURCE",
    "REDACTED",
    "Bool",
    "Choice",
    "Context",
    "Declared",
    "Duration",
    "EnvVar",
    "Fraction",
    "Integer",
    "Kind",
    "Name",
    "NamedTables",
    "Number",
    "PathText",
    "Rule",
    "Setting",
    "String",
    "Table",
    "TableArray",
    "Text",
    "TextList",
    "Url",
    "boolean",
    "build",
    "check_keys",
    "choice",
    "declared",
    "duration",
    "integer",
    "is_secret_guarded",
    "keys",
    "message",
    "name",
    "parse_fields",
    "path_text",
    "positive_number",
    "quoted",
    "secret_guard",
    "setting",
    "show",
    "subtable",
    "text",
    "text_list",
    "url",
]

OVERRIDES_SOURCE: Final = "<overrides>"
"""What error messages name as the file when the offending value came from `overrides`."""

_T = TypeVar("_T")
_C = TypeVar("_C", bound=type)


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Final = _Missing()
"""A key that is absent; shown as "found nothing"."""


class _Redacted:
    """Stands in for a value that may be a secret, so error messages and CI logs never echo it."""

    def __repr__(self) -> str:
        return "a value not shown here (it may be a secret)"


REDACTED: Final = _Redacted()

ENV_VAR: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_SECRET_LIKE_KEYS = ("secret", "jwt_secret", "token", "password", "key", "secret_value")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_FRACTION_TEXT = re.compile(r"\d+(?:\.\d+)?")
_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")
_SHOW_LIMIT = 120
_LARGEST_INTEGER = 10**12
"""No count, size or rate drillbook reads comes near this; past it a value is a typo (or an
attack on float conversion: 10**400 cannot become a float at all)."""
_METADATA_KEY: Final = "drillbook"


# --- where values came from, and the one error format --------------------------------------------


@dataclass
class Context:
    """Where values came from, so each error names the file (or the overrides) that set it."""

    source: str
    overridden: set[str] = field(default_factory=set)
    """Dotted keys written by overrides, including tables that an override created."""

    def origin(self, key: str) -> str:
        for written in self.overridden:
            if key == written or key.startswith((f"{written}.", f"{written}[")):
                return OVERRIDES_SOURCE
        return self.source

    def is_override(self, key: str) -> bool:
        return self.origin(key) == OVERRIDES_SOURCE

    def fail(self, key: str, found: object, expected: str, hint: str | None = None) -> NoReturn:
        raise ConfigError(message(self.origin(key), key, show(found), expected, hint))


def message(origin: str, key: str, found: str, expected: str, hint: str | None) -> str:
    """`<origin>: key '<key>': found <found>, expected <expected>[; <hint>]`."""
    text = f"{origin}: key '{key}': found {found}, expected {expected}"
    return hide_credentials(f"{text}; {hint}" if hint else text)


def show(value: object) -> str:
    """A value as error messages show it: its repr, cut to a readable length, with the
    credentials of any URL in it hidden (a message is printed, logged and kept by CI)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_INTEGER:
        return f"an integer of {len(str(abs(value)))} digits"
    shown = hide_credentials(repr(value))
    if len(shown) > _SHOW_LIMIT:
        shown = shown[: _SHOW_LIMIT - 3] + "..."
    return shown


def dotted(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


# --- value helpers -------------------------------------------------------------------------------


def check_keys(
    context: Context,
    prefix: str,
    table: Mapping[str, Any],
    allowed: Sequence[str],
    *,
    secret_guard: bool = False,
) -> None:
    """Refuse the first key of `table` not in `allowed`, suggesting the closest allowed one.

    With `secret_guard` (tables next to credentials), the unknown key's value is never shown and
    a key named like a secret is told that secrets go in the environment.
    """
    for key_name, value in table.items():
        if key_name in allowed:
            continue
        key = dotted(prefix, key_name)
        hint: str | None
        shown = REDACTED if secret_guard else value
        if secret_guard and key_name.lower() in _SECRET_LIKE_KEYS:
            hint = (
                "the secret never goes in the file: export it in the environment and name the "
                "variable with secret_env"
            )
        else:
            close = difflib.get_close_matches(key_name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else None
        raise ConfigError(
            message(
                context.origin(key),
                key,
                f"unknown key {key_name!r} = {show(shown)}",
                f"one of {', '.join(allowed)}" + (f" in [{prefix}]" if prefix else " at the top"),
                hint,
            )
        )


def subtable(
    context: Context, dotted_key: str, parent: Mapping[str, Any], *, key: str | None = None
) -> dict[str, Any]:
    """The table at `parent[key]` (`key` defaults to `dotted_key`); {} when it is absent."""
    value = parent.get(key or dotted_key, MISSING)
    if value is MISSING:
        return {}
    if not isinstance(value, dict):
        context.fail(dotted_key, value, f"a table [{dotted_key}]")
    return value


def choice(
    context: Context, key: str, value: object, choices: Sequence[_T], hint: str | None = None
) -> _T:
    for option in choices:
        if value == option and isinstance(value, str):
            return option
    if hint is None and isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else None
    context.fail(key, value, f"one of {quoted(choices)}", hint)


def quoted(choices: Sequence[object]) -> str:
    return ", ".join(f"'{option}'" for option in choices)


def boolean(context: Context, key: str, value: object) -> bool:
    """A TOML boolean; from overrides also true/false, yes/no, on/off, 1/0 as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and context.is_override(key):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    context.fail(key, value, "true or false")


def integer(
    context: Context, key: str, value: object, *, minimum: int, hint: str | None = None
) -> int:
    """An integer >= `minimum` (not a boolean); from overrides also as text."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and context.is_override(key) and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    if number is None or number < minimum:
        context.fail(key, value, f"an integer >= {minimum}", hint)
    if number > _LARGEST_INTEGER:
        context.fail(key, value, f"an integer from {minimum} to {_LARGEST_INTEGER:.0e}", hint)
    return number


def positive_number(
    context: Context, key: str, value: object, expected: str, *, allow_zero: bool = False
) -> float:
    """A finite number above 0 (or >= 0 with `allow_zero`); from overrides also as text."""
    if isinstance(value, str) and context.is_override(key) and _FRACTION_TEXT.fullmatch(value):
        value = float(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > _LARGEST_INTEGER:
        context.fail(key, value, f"{expected}, at most {_LARGEST_INTEGER:.0e}")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        context.fail(key, value, expected)
    return float(value)


def duration(context: Context, key: str, value: object) -> float:
    return parse_duration(value, key=key, source=context.origin(key))


def text(context: Context, key: str, value: object) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        context.fail(key, value, "a non-empty string")
    return value.strip()


def text_list(context: Context, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        context.fail(key, value, 'a list of strings such as ["drill"]')
    return tuple(text(context, f"{key}[{index}]", item) for index, item in enumerate(value))


def name(context: Context, key: str, value: object) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        context.fail(key, value, "a name of letters, digits, '_', '.' and '-'")
    return value


def path_text(context: Context, key: str, value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return text(context, key, value)


def url(context: Context, key: str, value: object) -> str:
    expected = "an http(s) URL such as 'https://api.example.com'"
    if not isinstance(value, str):
        context.fail(key, value, expected)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        context.fail(key, value, expected)
    if "@" in parts.netloc:
        context.fail(
            key,
            value,
            f"{expected} without credentials",
            "a user and password in a URL end up in logs and reports: give them to drillbook "
            "through the environment ([target.auth] secret_env, dsn_env)",
        )
    if parts.query or parts.fragment:
        context.fail(key, value, f"{expected} without query or fragment")
    return value.strip().rstrip("/")


# --- kinds: how one key's value is parsed, and how the reference describes it --------------------


class Kind:
    """How the value of one key is checked and converted, and what the reference calls it."""

    def parse(self, context: Context, key: str, value: object) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """The reference's "type / unit" column."""
        raise NotImplementedError

    def show_default(self, value: object) -> str:
        """The reference's "default" column: the default as it would be written in TOML."""
        return toml_literal(value)

    @property
    def secret(self) -> bool:
        """A key whose bad value is never echoed: it may hold a pasted secret (e.g. a DSN)."""
        return False


def toml_literal(value: object) -> str:
    if value is None:
        return "not set"
    return f"`{_toml(value)}`"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


@dataclass(frozen=True)
class Rule:
    """One check on a string: `test` must hold, or the key fails with `expected` (and `hint`)."""

    test: Callable[[str], object]
    expected: str
    hint: str | None = None


@dataclass(frozen=True)
class Bool(Kind):
    """true or false (from overrides also yes/no, on/off, 1/0)."""

    def parse(self, context: Context, key: str, value: object) -> bool:
        return boolean(context, key, value)

    def describe(self) -> str:
        return "true / false"


@dataclass(frozen=True)
class Integer(Kind):
    """An integer from `minimum`, optionally up to `maximum` (failing with `over`) or `one_of`."""

    minimum: int
    hint: str | None = None
    maximum: int | None = None
    over: str = ""
    one_of: tuple[int, ...] = ()

    def parse(self, context: Context, key: str, value: object) -> int:
        number = integer(context, key, value, minimum=self.minimum, hint=self.hint)
        if self.maximum is not None and number > self.maximum:
            context.fail(key, number, self.over)
        if self.one_of and number not in self.one_of:
            context.fail(key, number, f"one of {', '.join(str(n) for n in self.one_of)}")
        return number

    def describe(self) -> str:
        if self.one_of:
            return "integer: " + ", ".join(str(n) for n in self.one_of)
        if self.maximum is not None:
            return f"integer {self.minimum} to {self.maximum}"
        return f"integer ≥ {self.minimum}"


@dataclass(frozen=True)
class Number(Kind):
    """A finite number above 0 (>= 0 with `allow_zero`), failing with `expected`; then bounds.

    Below `minimum` fails with `under`, above `maximum` with `over`; both show the value found.
    """

    expected: str
    unit: str = ""
    allow_zero: bool = False
    minimum: float | None = None
    under: str = ""
    maximum: float | None = None
    over: str = ""

    def parse(self, context: Context, key: str, value: object) -> float:
        number = positive_number(context, key, value, self.expected, allow_zero=self.allow_zero)
        if self.minimum is not None and number < self.minimum:
            context.fail(key, value, self.under)
        if self.maximum is not None and number > self.maximum:
            context.fail(key, value, self.over)
        return number

    def describe(self) -> str:
        low = f"≥ {self.minimum:g}" if self.minimum is not None else "≥ 0"
        if self.minimum is None and not self.allow_zero:
            low = "> 0"
        bounds = f"{low}, ≤ {self.maximum:g}" if self.maximum is not None else low
        return f"number {bounds}" + (f" ({self.unit})" if self.unit else "")


@dataclass(frozen=True)
class Fraction(Kind):
    """A number from 0 to 1, failing with `expected` (which shows the value as found)."""

    expected: str

    def parse(self, context: Context, key: str, value: object) -> float:
        number = value
        if (
            isinstance(number, str)
            and context.is_override(key)
            and _FRACTION_TEXT.fullmatch(number)
        ):
            number = float(number)
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= 1:
            context.fail(key, value, self.expected)
        return float(number)

    def describe(self) -> str:
        return "fraction 0 to 1"


@dataclass(frozen=True)
class Duration(Kind):
    """A duration ("250ms", "2s", "15m", "1h30m" or seconds), as float seconds.

    With `positive`, 0 is refused too, with that expectation (and `hint`).
    """

    positive: str | None = None
    hint: str | None = None

    def parse(self, context: Context, key: str, value: object) -> float:
        seconds = duration(context, key, value)
        if self.positive is not None and seconds <= 0:
            context.fail(key, value, self.positive, self.hint)
        return seconds

    def describe(self) -> str:
        return "duration > 0" if self.positive is not None else "duration"

    def show_default(self, value: object) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f'`"{format_duration(value)}"`'
        return super().show_default(value)


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty string, stripped; then each rule in turn, and `transform` on the result."""

    rules: tuple[Rule, ...] = ()
    transform: Callable[[str], Any] | None = None
    what: str = "text"

    def parse(self, context: Context, key: str, value: object) -> Any:
        stripped = text(context, key, value)
        for rule in self.rules:
            if not rule.test(stripped):
                context.fail(key, stripped, rule.expected, rule.hint)
        return self.transform(stripped) if self.transform else stripped

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class EnvVar(Kind):
    """The name of an environment variable (letters, digits, _), never what it holds.

    A `secret` key is one where a pasted value is likely (a token, a DSN with its password):
    a value that is not a variable name is then never echoed.
    """

    expected: str
    hint: str | None = None
    is_secret: bool = False

    def parse(self, context: Context, key: str, value: object) -> str:
        variable = text(context, key, value)
        if not ENV_VAR.fullmatch(variable):
            context.fail(key, REDACTED if self.is_secret else variable, self.expected, self.hint)
        return variable

    def describe(self) -> str:
        return "environment variable name"

    @property
    def secret(self) -> bool:
        return self.is_secret


@dataclass(frozen=True)
class String(Kind):
    """A string as written (not stripped, may be empty) that passes each rule in turn.

    A value that is not a string fails with the first rule's expectation.
    """

    rules: tuple[Rule, ...]
    what: str
    transform: Callable[[str], Any] | None = None

    def parse(self, context: Context, key: str, value: object) -> Any:
        if not isinstance(value, str):
            first = self.rules[0]
            context.fail(key, value, first.expected, first.hint)
        for rule in self.rules:
            if not rule.test(value):
                context.fail(key, value, rule.expected, rule.hint)
        return self.transform(value) if self.transform else value

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class Name(Kind):
    """A name of letters, digits, '_', '.' and '-' (starting with a letter or digit)."""

    def parse(self, context: Context, key: str, value: object) -> str:
        return name(context, key, value)

    def describe(self) -> str:
        return "name"


@dataclass(frozen=True)
class PathText(Kind):
    """A file or directory path (a non-empty string; a path object from Python code too)."""

    def parse(self, context: Context, key: str, value: object) -> str:
        return path_text(context, key, value)

    def describe(self) -> str:
        return "path"


@dataclass(frozen=True)
class TextList(Kind):
    """A list of non-empty strings, each stripped."""

    def parse(self, context: Context, key: str, value: object) -> tuple[str, ...]:
        return text_list(context, key, value)

    def describe(self) -> str:
        return "list of text"


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words; a near miss gets a suggestion (or `hint`)."""

    choices: tuple[str, ...]
    hint: str | None = None

    def parse(self, context: Context, key: str, value: object) -> str:
        return choice(context, key, value, self.choices, self.hint)

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{_toml(option)}`" for option in self.choices)


@dataclass(frozen=True)
class Url(Kind):
    """An http(s) URL without query or fragment; a trailing slash is dropped."""

    def parse(self, context: Context, key: str, value: object) -> str:
        return url(context, key, value)

    def describe(self) -> str:
        return "http(s) URL"


# --- kinds that nest tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Table(Kind):
    """A nested table `[<key>]` holding the declared fields of `model`."""

    model: type[Any]

    def parse(self, context: Context, key: str, value: object) -> Any:
        if not isinstance(value, dict):
            context.fail(key, value, f"a table [{key}]")
        return build(context, key, value, self.model)

    def describe(self) -> str:
        return "table"

    def show_default(self, value: object) -> str:
        return "see below"


@dataclass(frozen=True)
class TableArray(Kind):
    """An array of tables `[[<key>]]`, each holding the declared fields of `model`."""

    model: type[Any]

    def parse(
        self,
        context: Context,
        key: str,
        value: object,
        *,
        each: Callable[[str, dict[str, Any], Any], None] | None = None,
    ) -> tuple[Any, ...]:
        """Build each entry; `each(entry_key, entry_table, built)` adds a section's own rules."""
        if value is MISSING:
            return ()
        if not isinstance(value, list | tuple):
            context.fail(key, value, f"an array of tables [[{key}]]")
        items: list[Any] = []
        for index, item in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(item, dict):
                context.fail(item_key, item, f"a table (write each entry as [[{key}]])")
            built = build(context, item_key, item, self.model)
            if each is not None:
                each(item_key, item, built)
            items.append(built)
        return tuple(items)

    def describe(self) -> str:
        return "array of tables"

    def show_default(self, value: object) -> str:
        return "`[]`" if value == () else toml_literal(value)


@dataclass(frozen=True)
class NamedTables(Kind):
    """Tables `[<key>.<name>]`, each holding the declared fields of `model`; the name (a `Name`)
    goes into the field `name_field`, and the result keeps file order."""

    model: type[Any]
    expected: str
    name_field: str = "name"
    name_doc: str = ""

    def parse(
        self,
        context: Context,
        key: str,
        value: object,
        *,
        each: Callable[[str, dict[str, Any], Any], None] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            context.fail(key, value, self.expected)
        items: dict[str, Any] = {}
        for item_name, item in value.items():
            item_key = f"{key}.{item_name}"
            name(context, item_key, item_name)
            if not isinstance(item, dict):
                context.fail(item_key, item, f"a table [{item_key}]")
            built = build(context, item_key, item, self.model, **{self.name_field: item_name})
            if each is not None:
                each(item_key, item, built)
            items[item_name] = built
        return items

    def describe(self) -> str:
        return "tables by name"

    def show_default(self, value: object) -> str:
        return "none" if not value else toml_literal(value)


# --- declarations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What the metadata of a declared field holds."""

    kind: Kind
    doc: str
    """One paragraph: what it is, in the reference and for readers of the code."""
    key: str | None = None
    """The TOML key, when it differs from the field's name (e.g. "interval" for
    interval_seconds)."""
    required: str | None = None
    """For a field without default: what the error expects when the key is absent."""


def setting(
    kind: Kind, doc: str, *, key: str | None = None, required: str | None = None
) -> dict[str, Any]:
    """The `metadata=` of a declared dataclass field."""
    return {
        _METADATA_KEY: Setting(kind=kind, doc=" ".join(doc.split()), key=key, required=required)
    }


@dataclass(frozen=True)
class Declared:
    """One declared field of a model: its Python name, TOML key, declaration and default."""

    field_name: str
    key: str
    setting: Setting
    default: object
    """The dataclass default (from default_factory too), MISSING when the field has none."""

    @property
    def kind(self) -> Kind:
        return self.setting.kind


_DECLARED: dict[type[Any], tuple[Declared, ...]] = {}


def declared(model: type[Any]) -> tuple[Declared, ...]:
    """The declared fields of `model`, in field order (fields without a declaration are not
    TOML keys, e.g. a component's name, which is its table's name)."""
    cached = _DECLARED.get(model)
    if cached is not None:
        return cached
    result: list[Declared] = []
    for item in dataclasses.fields(model):
        spec = item.metadata.get(_METADATA_KEY)
        if not isinstance(spec, Setting):
            continue
        default: object = MISSING
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        result.append(Declared(item.name, spec.key or item.name, spec, default))
    _DECLARED[model] = tuple(result)
    return _DECLARED[model]


def keys(model: type[Any]) -> tuple[str, ...]:
    """The TOML keys of `model`'s table, in declaration order."""
    return tuple(entry.key for entry in declared(model))


_SECRET_GUARDED: set[type[Any]] = set()


def secret_guard(model: _C) -> _C:
    """Class decorator: the model's table sits next to credentials, so an unknown key's value is
    never echoed and a key named like a secret is told that secrets go in the environment."""
    _SECRET_GUARDED.add(model)
    return model


def is_secret_guarded(model: type[Any]) -> bool:
    return model in _SECRET_GUARDED


def parse_fields(
    context: Context,
    prefix: str,
    table: Mapping[str, Any],
    model: type[Any],
    *,
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """Parse every declared key present in `table` with its kind: constructor keyword arguments.

    Keys are parsed in declaration order, or in `order` (TOML keys) when given, which may also
    name only some of them. The first bad value raises.
    """
    by_key = {entry.key: entry for entry in declared(model)}
    kwargs: dict[str, Any] = {}
    for key in order or by_key:
        entry = by_key[key]
        if key in table:
            kwargs[entry.field_name] = entry.kind.parse(context, dotted(prefix, key), table[key])
    return kwargs


def build(
    context: Context,
    prefix: str,
    table: Mapping[str, Any],
    model: type[_T],
    *,
    order: Sequence[str] = (),
    **given: Any,
) -> _T:
    """Check `table`'s keys against `model`'s declarations, parse them and construct `model`.

    Unknown keys are refused first, then absent required keys, then each value (see
    `parse_fields`); `given` are values that do not come from the table (a component's name).
    """
    if order and sorted(order) != sorted(keys(model)):
        raise TypeError(f"order {order!r} is not the keys of {model.__name__}: {keys(model)!r}")
    check_keys(context, prefix, table, keys(model), secret_guard=is_secret_guarded(model))
    for entry in declared(model):
        if entry.setting.required is not None and entry.key not in table:
            context.fail(dotted(prefix, entry.key), MISSING, entry.setting.required)
    return model(**given, **parse_fields(context, prefix, table, model, order=order))
