"""The secret values a configuration points at: whatever the environment variables its
`*_env` settings name hold (a JWT secret, a ledger DSN, a webhook URL, a password), found by
walking the declarations, so that a new setting of that kind is covered without a list to
keep. drillbook registers them with its redactor as soon as the configuration is loaded:
before anything is printed, logged or written."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

from drillbook.config.schema import EnvVar, NamedTables, Table, TableArray, declared

_LOOKS_SECRET = 8


def secret_values(config: Any) -> list[str]:
    """Every non-empty value of an environment variable an `EnvVar` setting names."""
    return sorted({value for value in _walk(config) if value})


def _walk(node: Any) -> Iterator[str]:
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    for entry in declared(type(node)):
        value = getattr(node, entry.field_name, None)
        kind = entry.kind
        if isinstance(kind, EnvVar) and isinstance(value, str) and value:
            held = os.environ.get(value, "")
            # A short value of a setting not marked secret (an SMTP user "admin") would blank
            # that word out of every path and message: only secrets, or what looks like one.
            if kind.secret or len(held) >= _LOOKS_SECRET:
                yield held
        elif isinstance(kind, Table):
            yield from _walk(value)
        elif isinstance(kind, TableArray) and isinstance(value, tuple | list):
            for item in value:
                yield from _walk(item)
        elif isinstance(kind, NamedTables) and isinstance(value, dict):
            for item in value.values():
                yield from _walk(item)
