"""The run's machine-readable result: one JSON file per run, built from the drill records.

CI jobs and other tools read it without Allure. The records inside carry their own schema
version (drillbook.core.record); the file's `schema_version` is the same number.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drillbook.core.record import RECORD_SCHEMA_VERSION, DrillRecord
from drillbook.core.redaction import REDACTOR


def run_document(
    records: Sequence[DrillRecord], *, started_wall: float, finished_wall: float, platform: str
) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "started": _iso(started_wall),
        "finished": _iso(finished_wall),
        "wall_seconds": round(finished_wall - started_wall, 3),
        "platform": platform,
        "outcomes": outcomes,
        "drills": [record.to_json() for record in records],
    }


def write_run_file(directory: Path, document: dict[str, Any]) -> Path:
    """Write the document as `<directory>/run-<UTC time>-<pid>.json` (and `latest.json`),
    atomically: a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = directory / f"run-{stamp}-{os.getpid()}.json"
    # Secrets never leave: the figures hold URLs and messages a configuration could fill.
    text = REDACTOR.redact(json.dumps(document, indent=2, sort_keys=False, default=str))
    for target in (path, directory / "latest.json"):
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text + "\n", encoding="utf-8")
        partial.replace(target)
    return path


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))
