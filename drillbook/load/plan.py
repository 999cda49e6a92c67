"""What the Locust processes are asked to do, as a JSON document they read (no secrets in it).

Bearer tokens are not minted by Locust: the drill process writes the current token (from the
same TokenProvider its probes use, so a rotated secret is followed) into `token_path`, and
Locust reads it; the signing secret never leaves the drill process.

The drill process writes it; the locustfile (in Locust's own process) reads it, or, on a
remote worker, receives it from the master. Kept free of heavy imports: the locustfile imports
this module after gevent has patched the process.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLAN_ENV = "DRILLBOOK_LOAD_PLAN"
"""Environment variable naming the plan file (local Locust processes)."""
PARENT_ENV = "DRILLBOOK_LOAD_PARENT_PID"
WORKER_KEY_ENV = "DRILLBOOK_LOAD_WORKER_KEY"
"""The key a worker on another machine proves itself with before the master hands it the plan
and the bearer token (`[load] worker_key_env` names where the runner reads it)."""
"""The drill's process: Locust stops when it is gone (so a killed drill leaves no load)."""
TRACE_READ = "trace-read"


@dataclass(frozen=True)
class Endpoint:
    """One request kind of the load."""

    name: str
    method: str
    path: str
    weight: int
    expect_status: tuple[int, ...] = (200,)
    json_body: Any = None
    auth: bool = False
    records_trace: bool = False
    """Send a fresh trace_id in the JSON body and remember it for trace reads."""


@dataclass(frozen=True)
class LoadPlan:
    base_url: str
    endpoints: tuple[Endpoint, ...]
    users: int
    rate: float
    """Requests per second in total."""
    timeout_seconds: float
    samples_path: str
    """Where the local (or master) process appends one JSON line per request."""
    max_requests: int
    trace_read_path: str = ""
    token_path: str = ""
    """File holding the current bearer token (0600, refreshed by the drill); "" without auth."""
    headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> LoadPlan:
        raw = json.loads(text)
        endpoints = tuple(
            Endpoint(**{**e, "expect_status": tuple(e["expect_status"])}) for e in raw["endpoints"]
        )
        return cls(**{**raw, "endpoints": endpoints})

    @classmethod
    def read(cls, path: str | Path) -> LoadPlan:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
