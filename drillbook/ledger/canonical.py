"""Canonical JSON at speed: orjson's bytes where they are provably json's, json's elsewhere.

Every ledger hash is a sha256 over canonical JSON: `json` with sorted keys, no whitespace and
ASCII only (`evidence.canonical_json`, and ELEANOR V8's encoder in `chain`). Verifying a chain
re-encodes every payload, and the stdlib encoder costs 6-8 us a payload on the project's
machine: most of a million-record verification. orjson encodes ~10x faster (and a whole batch
in one call, which saves its per-call cost too), but its bytes are json's only on part of the
domain. Where they differ, and what is done about it:

* text beyond ASCII: orjson writes UTF-8, json writes `\\uXXXX` (surrogate pairs above U+FFFF),
  and DEL (0x7f) raw where json writes `\\u007f`. Both only ever occur inside strings, and
  orjson escapes quote, backslash and control characters exactly as json does, so escaping
  every other character afterwards gives json's bytes: done here, in C (a codec error handler
  called once per run of such characters);
* floats: `1e-05` vs `0.00001`, `1e+16` vs `1e16`, ..., and NaN/Infinity become `null`;
* types json does not know: orjson writes UUIDs, enums, dataclasses, datetimes, fragments;
  json raises on them, or (ELEANOR's encoder) writes their str();
  so orjson's bytes are kept only when every value in the batch, at every depth, is of an
  exact JSON type other than float: dict, list, tuple, str, int, bool or None (no subclass
  either), which `_json_types_only` checks a level at a time in C;
* what orjson refuses (ints beyond 64 bits, non-str keys, lone surrogates, nesting past 255
  levels): json encodes it, or raises as it always did.

A batch that fails any of these is encoded value by value the same way, and a value that fails
is encoded by the fallback (json, which also raises where json raises). The equivalence is
tested value by value against json on nested, non-ASCII, float, big-int and odd-typed values
(tests/unit/test_ledger_canonical.py).
"""

from __future__ import annotations

import codecs
import gc
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

import orjson

Fallback = Callable[[Any], str]
"""The reference encoder: a value to its canonical JSON text (ASCII)."""

BATCH: Final = 1024
"""Values encoded per orjson call: large enough to spread the call's cost, small enough that
a batch sent to json because of one float costs little."""

_OPTIONS: Final = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# The values of a batch are encoded as one array with this raw byte between them; orjson never
# writes a raw control character (it escapes them in strings), and a batch holding a Fragment
# of its own is refused, so every occurrence is one of ours.
_BOUNDARY: Final = orjson.Fragment(b"\x01")
_SPLIT: Final = b",\x01,"
_JSON_TYPES: Final = frozenset({dict, list, tuple, str, int, bool, type(None)})
_ESCAPE_HANDLER: Final = "drillbook.canonical_json_ascii"


def canonical_bytes(value: Any, fallback: Fallback) -> bytes:
    """`fallback(value).encode()`, faster (orjson) where that provably gives the same bytes."""
    return canonical_many([value], fallback)[0]


def canonical_many(values: Sequence[Any], fallback: Fallback) -> list[bytes]:
    """`[fallback(v).encode() for v in values]`, the same bytes, mostly by orjson in batches."""
    encoded: list[bytes] = []
    for start in range(0, len(values), BATCH):
        batch = list(values[start : start + BATCH])
        fast = _orjson_batch(batch)
        if fast is None:
            fast = [_encode_one(value, fallback) for value in batch]
        encoded += fast
    return encoded


def _encode_one(value: Any, fallback: Fallback) -> bytes:
    fast = _orjson_batch([value])
    return fast[0] if fast is not None else fallback(value).encode("utf-8")


def _orjson_batch(values: list[Any]) -> list[bytes] | None:
    """The canonical bytes of each value, or None when orjson's might not be json's."""
    if not values:
        return []
    interleaved = [_BOUNDARY] * (2 * len(values) - 1)
    interleaved[::2] = values
    try:
        # First, so that _json_types_only never walks a cycle (orjson refuses those).
        blob = orjson.dumps(interleaved, default=_refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    if not _json_types_only(values):
        return None
    blob = ascii_escaped(blob)
    pieces = blob.split(_SPLIT)
    if len(pieces) != len(values):
        return None
    pieces[0] = pieces[0][1:]  # the array's brackets
    pieces[-1] = pieces[-1][:-1]
    return pieces


def ascii_escaped(text: bytes) -> bytes:
    """JSON bytes (UTF-8) with every character beyond ASCII, and DEL, escaped as json's
    ensure_ascii escapes them (such characters only ever occur inside strings)."""
    if not text.isascii():
        text = text.decode("utf-8").encode("ascii", _ESCAPE_HANDLER)
    if b"\x7f" in text:
        text = text.replace(b"\x7f", b"\\u007f")
    return text


def _json_types_only(values: list[Any]) -> bool:
    """Every value, at every depth, is a dict, list, tuple, str, int, bool or None (exactly).

    A level at a time: the types of a whole level are checked in one C loop, then
    gc.get_referents gives the next level in one call (what dicts, lists and tuples hold: a
    dict's values, and its keys too unless they are all exact str; strings, ints, bool and
    None hold nothing). orjson has refused cycles already, so the walk ends.
    """
    level = values
    while level:
        if not _JSON_TYPES.issuperset(map(type, level)):
            return False
        level = gc.get_referents(*level)
    return True


def _refuse(value: Any) -> NoReturn:
    raise TypeError(f"{type(value).__name__} is left to json")


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """Escape what ASCII cannot hold as json's ensure_ascii does: lowercase `\\uXXXX`."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped: list[str] = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


codecs.register_error(_ESCAPE_HANDLER, _json_escape)
