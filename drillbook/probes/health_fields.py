"""What a health answer says about itself: its JSON body's scalars by dotted path.

A health probe's sample keeps them (drillbook.core.timeline.Sample.fields), so that findings can
compare what the service said (`db: "ok"`) with what the end-to-end checks saw at the same
moment, and tell a field that changed when a dependency died from one that never did. Bounded,
because every health sample of a drill keeps its own copy, and redacted, because a health body
may echo a DSN or a token.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Final

from drillbook.core.redaction import REDACTOR
from drillbook.core.timeline import FieldValue

MAX_FIELDS: Final = 32
"""Health bodies are small; a body with more scalars keeps its shallowest ones."""
MAX_TEXT: Final = 80
"""Longer strings (error messages, stack traces) are cut: the start says what they are."""
MAX_BODY_BYTES: Final = 64 * 1024
"""A larger body is not a health answer worth parsing on every sample."""


def _kept(value: FieldValue) -> FieldValue:
    if isinstance(value, str):
        return REDACTOR.redact(value)[:MAX_TEXT]
    return value


def health_fields(body: bytes) -> dict[str, FieldValue] | None:
    """The body's scalars by dotted path (`checks.database`, list items by index: `errors.0`),
    shallowest first and in document order, at most MAX_FIELDS of them; None when the body is
    not a JSON object."""
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    fields: dict[str, FieldValue] = {}
    # Breadth first: the fields that name a dependency sit near the top (`db`, `checks.db`),
    # so a body too large to keep whole keeps those.
    pending: deque[tuple[str, Any]] = deque([("", document)])
    while pending and len(fields) < MAX_FIELDS:
        prefix, node = pending.popleft()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            path = REDACTOR.redact(f"{prefix}{key}")
            if isinstance(value, dict | list):
                pending.append((f"{path}.", value))
            elif len(fields) < MAX_FIELDS:
                fields[path] = _kept(value)
    return fields
