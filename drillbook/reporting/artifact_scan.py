"""Scanning a drill run's artifacts for secret values that should never be there.

The redactor keeps secrets out of what drillbook writes; this checks the result from the outside:
every file under the given paths (Allure results and attachments, the stack's logs, the undo
journal, a timeline) is searched for each secret in the spellings it can take in those files
(raw, JSON-escaped, percent-encoded), including inside base64 `data:` URIs (the report embeds its
chart that way). A finding names the file and the secret's *name*, never its value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from drillbook.core.redaction import _variants

_DATA_URI = re.compile(rb"data:[\w/+.-]+;base64,([A-Za-z0-9+/=]+)")
MAX_FILE_BYTES = 50 * 1024 * 1024
"""Larger files are read up to this many bytes (a drill's artifacts are far smaller)."""


@dataclass(frozen=True)
class Finding:
    """A secret found where it must not be."""

    path: Path
    secret: str
    """The secret's name (e.g. "jwt"), not its value."""
    where: str
    """"text" or "base64 data URI"."""

    def __str__(self) -> str:
        return f"secret '{self.secret}' found in {self.path} ({self.where})"


def artifact_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file under `paths` (a path that is a file is itself)."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def scan_for_secrets(paths: Iterable[Path], secrets: Mapping[str, str]) -> list[Finding]:
    """Every (file, secret) where a spelling of the secret's value occurs."""
    needles = {
        name: [form.encode("utf-8") for form in _variants(value)]
        for name, value in secrets.items()
        if value
    }
    findings: list[Finding] = []
    for path in artifact_files(paths):
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES)
        embedded = b"\n".join(_decoded_data_uris(data))
        for name, forms in needles.items():
            if any(form in data for form in forms):
                findings.append(Finding(path, name, "text"))
            elif embedded and any(form in embedded for form in forms):
                findings.append(Finding(path, name, "base64 data URI"))
    return findings


def _decoded_data_uris(data: bytes) -> Iterator[bytes]:
    for match in _DATA_URI.finditer(data):
        try:
            yield base64.b64decode(match.group(1), validate=False)
        except (binascii.Error, ValueError):
            continue


SCANNED_SECRET_MIN_LENGTH = 8
"""The end-of-run scan looks for registered values this long or longer: real secrets (tokens,
keys, passwords) are; a shorter one would match ordinary words in a report and fail runs for
nothing (the redactor still blanks it wherever drillbook writes)."""


def scan_run_outputs(paths: Iterable[Path], secrets: Iterable[str]) -> list[Finding]:
    """The end-of-run scan: every file the run wrote, for every secret the run learned. The
    findings name a secret by its length and position in the list, never by value."""
    named = {
        f"registered secret #{index} ({len(value)} chars)": value
        for index, value in enumerate(sorted(set(secrets)), start=1)
        if len(value) >= SCANNED_SECRET_MIN_LENGTH
    }
    return scan_for_secrets(paths, named) if named else []
