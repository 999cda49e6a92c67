"""Keeping secrets out of reports.

Drill reports are shared widely (chat, tickets, CI artifacts), while drills handle real
credentials: database passwords, tokens, DSNs. Whoever learns a secret registers it here
(`register_secret`), and every piece of reporting code passes text through `REDACTOR`
before writing it, so that a secret that leaks into a log line, an exception message or a
step name never reaches a file.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, AnyStr
from urllib.parse import quote, unquote, urlsplit

PLACEHOLDER = "***REDACTED***"
"""What a secret is replaced with."""

MIN_SECRET_LENGTH = 4
"""Shorter values are ignored: redacting "ab" or "1" would shred every report while
protecting nothing (such values are not secrets worth the name)."""


def _variants(secret: str) -> set[str]:
    """The forms in which `secret` shows up in text we write.

    Reports contain JSON (Allure results, attachments) and URLs (DSNs, query strings), where
    a secret with quotes, backslashes, non-ASCII or reserved characters is spelled
    differently from the raw value; registering those spellings too closes that hole.
    """
    forms = {secret, secret.strip()}
    forms.add(json.dumps(secret)[1:-1])  # as inside a JSON string, ASCII-escaped
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms.add(quote(secret, safe=""))  # percent-encoded, as in a URL or DSN
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """A set of secret values and the means to blank them out of text and bytes.

    Thread-safe: probes and fault injectors register secrets from their own threads while
    reporting code redacts. Matching is done on the union of all occurrences of all
    secrets, so overlapping secrets (``"abcdef"`` and ``"cdefgh"`` in ``"abcdefgh"``) and
    nested ones (``"pass"`` inside ``"password"``) leave no fragment behind.
    """

    def __init__(self, placeholder: str = PLACEHOLDER) -> None:
        self._placeholder = placeholder
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._originals: set[str] = set()
        """The values as registered (without their spellings), for the end-of-run scan."""
        # Compiled patterns are replaced, never mutated, so readers take a reference
        # without locking and always see a consistent pair.
        self._patterns: tuple[re.Pattern[str], re.Pattern[bytes]] | None = None

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def add(self, secret: str) -> None:
        """Register `secret` (and its JSON / URL spellings); values under 4 chars are ignored."""
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._originals.add(secret)
            new = _variants(secret) - self._secrets
            if not new:
                return
            self._secrets |= new
            self._patterns = _compile(self._secrets)

    def add_all(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            self.add(secret)

    def clear(self) -> None:
        """Forget every secret (for tests, and between independent drills)."""
        with self._lock:
            self._secrets.clear()
            self._originals.clear()
            self._patterns = None

    def registered(self) -> list[str]:
        """Every value registered so far, as registered."""
        with self._lock:
            return sorted(self._originals)

    def __len__(self) -> int:
        with self._lock:
            return len(self._secrets)

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every registered secret replaced by the placeholder."""
        patterns = self._patterns
        if patterns is None or not text:
            return text
        return _replace(text, patterns[0], self._placeholder)

    def redact_bytes(self, data: bytes) -> bytes:
        """Like `redact`, on raw bytes (secrets matched in their UTF-8 encoding)."""
        patterns = self._patterns
        if patterns is None or not data:
            return data
        return _replace(data, patterns[1], self._placeholder.encode())


def _compile(secrets: set[str]) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    # Longest first, so that at a given position the longest secret wins; the lookahead
    # makes finditer report a match at *every* start position, overlapping ones included.
    ordered = sorted(secrets, key=lambda s: (-len(s), s))
    text_pattern = re.compile("(?=(" + "|".join(re.escape(s) for s in ordered) + "))")
    byte_pattern = re.compile(b"(?=(" + b"|".join(re.escape(s.encode()) for s in ordered) + b"))")
    return text_pattern, byte_pattern


def _replace(value: AnyStr, pattern: re.Pattern[AnyStr], placeholder: AnyStr) -> AnyStr:
    """Replace the union of all (possibly overlapping) matches, one placeholder per run."""
    spans: list[list[int]] = []
    for match in pattern.finditer(value):
        start = match.start()
        end = start + len(match.group(1))
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return value
    pieces: list[AnyStr] = []
    previous = 0
    for start, end in spans:
        pieces.append(value[previous:start])
        pieces.append(placeholder)
        previous = end
    pieces.append(value[previous:])
    return value[:0].join(pieces)


REDACTOR = Redactor()
"""The process-wide redactor every reporting function uses unless given another."""


def register_secret(value: str) -> None:
    """Register `value` with the process-wide `REDACTOR`."""
    REDACTOR.add(value)


def register_dsn(dsn: str) -> None:
    """Register a database URL and its password: the whole DSN may be printed (an error
    message, a connection string in a log), and so may the password alone (libpq's errors)."""
    register_secret(dsn)
    parts = urlsplit(dsn)
    if parts.password:
        register_secret(unquote(parts.password))
    for field in dsn.split():  # the key=value form: "host=... password=..."
        key, _, value = field.partition("=")
        if key == "password" and value:
            register_secret(value.strip("'\""))


_FACTORY_INSTALLED = False


def redact_logging() -> None:
    """Blank registered secrets out of every log record this process makes, by any logger and
    for any handler (pytest's captured logs, the CLI's stderr): records are redacted as they are
    created, so no handler added later can miss it. Installed once."""
    global _FACTORY_INSTALLED
    if _FACTORY_INSTALLED:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if len(REDACTOR):
            message = record.getMessage()
            redacted = REDACTOR.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return record

    logging.setLogRecordFactory(redacting_record)
    _FACTORY_INSTALLED = True
